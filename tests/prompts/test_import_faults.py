"""Imports are all-or-nothing: every value the database would refuse is a line error.

Each case here once passed validation and failed the write: the import said
``failed, rows_written: 0`` while the batches before it stayed in the database.
Run them on PostgreSQL (``DATABASE_URL``) to see the database-specific ones.
"""

from __future__ import annotations

import io
import logging

import orjson
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import DataError, OperationalError

from reflectlab.prompts import services
from reflectlab.prompts.models import ImportJob, Prompt
from reflectlab.prompts.parsing import Mapping, RecordError, clean_trace
from reflectlab.prompts.services import ImportFailed, import_stream, output_keeps_nul
from reflectlab.traces.models import Trace


def jsonl(*records) -> bytes:
    return b"".join(orjson.dumps(r) + b"\n" for r in records)


def good(i: int) -> dict:
    return {"id": f"t{i}", "prompt_id": f"p{i}", "question": f"{i}+1?", "response": f"{i + 1}"}


def openai_line(usage: dict) -> dict:
    return {
        "id": "bad",
        "prompt": "2+2?",
        "response": {
            "model": "m",
            "choices": [{"message": {"content": "4"}, "finish_reason": "stop"}],
            "usage": usage,
        },
    }


BAD_LINES = {
    "nul in metadata": {**good(99), "metadata": {"note": "a\u0000b"}},
    "nul in a metadata key": {**good(99), "metadata": {"k\u0000": 1}},
    "nul nested in metadata": {**good(99), "metadata": {"a": [{"b": "\u0000"}]}},
    "nul in the prompt": {**good(99), "question": "\u0000?"},
    "token count text": openai_line({"prompt_tokens": "abc"}),
    "token count negative": openai_line({"completion_tokens": -5}),
    "token count huge": openai_line({"completion_tokens": 1e20}),
    "token count bool": openai_line({"prompt_tokens": True}),
    "prompt_id too long": {**good(99), "prompt_id": "p" * 300},
    "trace id too long": {**good(99), "id": "t" * 300},
    "model name too long": {**good(99), "model": "m" * 301},
    "finish reason too long": {**good(99), "finish_reason": "f" * 33},
}


@pytest.fixture
def small_batches(monkeypatch):
    # Batches of two, so three good lines commit a batch before the bad one.
    monkeypatch.setattr(services, "BATCH_SIZE", 2)


@pytest.mark.usefixtures("small_batches")
@pytest.mark.parametrize("bad", BAD_LINES.values(), ids=BAD_LINES.keys())
def test_a_value_the_database_refuses_is_a_line_error_and_nothing_is_written(project, bad):
    data = jsonl(good(1), good(2), good(3), bad)
    report = import_stream(
        project=project, stream=io.BytesIO(data), kind="traces", file_format="jsonl"
    )
    assert [e["line"] for e in report["errors"]] == [4], report["errors"]
    assert not report["written"]
    assert (Trace.objects.count(), Prompt.objects.count()) == (0, 0)


def test_a_nul_in_prompt_metadata_is_refused_by_line(project):
    report = import_stream(
        project=project,
        stream=io.BytesIO(jsonl({"id": "a", "prompt": "x", "metadata": {"m": "\u0000"}})),
        kind="prompts",
        file_format="jsonl",
    )
    assert report["errors"][0]["line"] == 1
    assert "NUL" in report["errors"][0]["error"]
    assert Prompt.objects.count() == 0


def test_whole_number_floats_are_token_counts(project):
    report = import_stream(
        project=project,
        stream=io.BytesIO(jsonl(openai_line({"prompt_tokens": 12.0, "completion_tokens": 3}))),
        kind="traces",
        file_format="jsonl",
    )
    assert report["rows_written"] == 1, report["errors"]
    trace = Trace.objects.get()
    assert (trace.prompt_tokens, trace.completion_tokens) == (12, 3)


REAL_WRITER = services.writer_for


def failing_writer(fail_on_call: int, exc: Exception):
    """The real writer, except that its n-th batch raises (a fault the validation missed)."""
    real = REAL_WRITER("traces")
    calls = []

    def write(project, records):
        calls.append(len(records))
        if len(calls) == fail_on_call:
            raise exc
        return real(project, records)

    return write


@pytest.mark.usefixtures("small_batches")
def test_a_write_that_fails_half_way_leaves_nothing_behind(project, monkeypatch):
    monkeypatch.setattr(
        services, "writer_for", lambda kind, *a, **k: failing_writer(2, DataError("value too long"))
    )
    with pytest.raises(ImportFailed) as failed:
        import_stream(
            project=project,
            stream=io.BytesIO(jsonl(*(good(i) for i in range(5)))),
            kind="traces",
            file_format="jsonl",
        )
    assert failed.value.report["rows_written"] == 0
    assert (Trace.objects.count(), Prompt.objects.count()) == (0, 0)


@pytest.mark.usefixtures("small_batches")
def test_allow_partial_reports_exactly_what_a_refused_batch_wrote(project, monkeypatch):
    real = REAL_WRITER("traces")

    def write(project, records):
        if any(r["external_id"] == "t2" for r in records):
            raise DataError("refused")
        return real(project, records)

    monkeypatch.setattr(services, "writer_for", lambda kind, *a, **k: write)
    report = import_stream(
        project=project,
        stream=io.BytesIO(jsonl(*(good(i) for i in range(5)))),
        kind="traces",
        file_format="jsonl",
        allow_partial=True,
    )
    assert (report["rows_written"], report["rows_rejected"]) == (4, 1)
    assert report["errors"] == [{"line": 3, "error": "The database refused this line (DataError)."}]
    assert Trace.objects.count() == 4
    assert Prompt.objects.count() == 4  # t2's prompt was rolled back with it


@pytest.mark.usefixtures("small_batches")
def test_a_failed_import_job_says_so_without_driver_text(project, user, monkeypatch, caplog):
    secret = 'relation "secret_table" violates constraint on host db.internal'
    monkeypatch.setattr(
        services, "writer_for", lambda kind, *a, **k: failing_writer(2, OperationalError(secret))
    )
    upload = SimpleUploadedFile("t.jsonl", jsonl(*(good(i) for i in range(5))))
    with caplog.at_level(logging.ERROR):
        job = services.import_job_create(
            project=project,
            user=user,
            upload=upload,
            kind="traces",
            file_format="jsonl",
            mapping={},
        )
    assert job.state == ImportJob.State.FAILED
    assert job.rows_written == 0
    message = job.errors[-1]["error"]
    assert "OperationalError" in message and "nothing was written" in message
    assert "secret_table" not in str(job.errors)
    assert secret in caplog.text  # the details are in the log for the operator
    assert Trace.objects.count() == 0


def test_a_jsonl_file_with_a_utf8_bom_imports(project):
    data = b"\xef\xbb\xbf" + jsonl({"id": "a", "prompt": "x"}, {"id": "b", "prompt": "y"})
    report = import_stream(
        project=project, stream=io.BytesIO(data), kind="prompts", file_format="jsonl"
    )
    assert report["errors"] == []
    assert report["rows_written"] == 2


def test_a_repeated_trace_id_with_other_content_is_an_error_and_leaves_no_orphan(project):
    first = {"id": "t1", "prompt_id": "pA", "question": "A?", "response": "a"}
    other = {"id": "t1", "prompt_id": "pB", "question": "B?", "response": "b"}
    report = import_stream(
        project=project, stream=io.BytesIO(jsonl(first, other)), kind="traces", file_format="jsonl"
    )
    assert report["errors"] == [
        {"line": 2, "error": "id 't1' is already used on line 1 with different content."}
    ]
    report = import_stream(
        project=project,
        stream=io.BytesIO(jsonl(first, other)),
        kind="traces",
        file_format="jsonl",
        allow_partial=True,
    )
    assert (report["rows_written"], report["rows_rejected"]) == (1, 1)
    assert list(Prompt.objects.values_list("external_id", flat=True)) == ["pA"]


def test_a_repeated_identical_line_is_skipped_without_an_orphan(project):
    line = {"id": "t1", "prompt_id": "pA", "question": "A?", "response": "a"}
    report = import_stream(
        project=project, stream=io.BytesIO(jsonl(line, line)), kind="traces", file_format="jsonl"
    )
    assert (report["rows_written"], report["rows_skipped"], report["errors"]) == (1, 1, [])
    assert Prompt.objects.count() == 1


def test_reimporting_a_trace_under_a_new_prompt_id_creates_no_orphan_prompt(project):
    line = {"id": "t1", "prompt_id": "pA", "question": "A?", "response": "a"}
    import_stream(
        project=project, stream=io.BytesIO(jsonl(line)), kind="traces", file_format="jsonl"
    )
    moved = {**line, "prompt_id": "pB"}
    report = import_stream(
        project=project, stream=io.BytesIO(jsonl(moved)), kind="traces", file_format="jsonl"
    )
    assert (report["rows_written"], report["rows_skipped"]) == (0, 1)
    assert list(Prompt.objects.values_list("external_id", flat=True)) == ["pA"]


NUL_RESPONSE = "<think>\nWe need 2 + 3.\u0000 So 5.\n</think>\n\nThe answer is \\boxed{5}.\u0000"


@pytest.mark.skipif(output_keeps_nul(), reason="the trace columns store NUL: it is kept instead")
def test_a_nul_in_a_response_is_a_line_error_where_the_columns_cannot_store_it(project):
    report = import_stream(
        project=project,
        stream=io.BytesIO(jsonl(good(1), {**good(2), "response": NUL_RESPONSE})),
        kind="traces",
        file_format="jsonl",
    )
    assert report["errors"][0]["line"] == 2
    assert "NUL" in report["errors"][0]["error"]
    assert Trace.objects.count() == 0


@pytest.mark.skipif(not output_keeps_nul(), reason="needs NUL-safe trace columns (core.fields)")
@pytest.mark.parametrize(
    "line",
    [
        {"id": "t", "question": "2+3?", "response": NUL_RESPONSE, "reasoning": "a\u0000b"},
        {"id": "t", "messages": [{"role": "user", "content": "2+3?"},
                                 {"role": "assistant", "content": NUL_RESPONSE}]},
    ],
)  # fmt: skip
def test_a_nul_in_model_output_is_kept_byte_for_byte(project, line):
    report = import_stream(
        project=project, stream=io.BytesIO(jsonl(line)), kind="traces", file_format="jsonl"
    )
    assert report["rows_written"] == 1, report["errors"]
    assert Trace.objects.get().raw_response == NUL_RESPONSE


def test_the_parser_lets_nul_through_only_in_model_output():
    keep = {"keep_nul": True}
    mapping = Mapping()
    record = clean_trace(
        {"question": "q", "response": "a\u0000", "reasoning": "r\u0000"}, mapping, **keep
    )
    assert (record["response"], record["reasoning"]) == ("a\u0000", "r\u0000")
    answer = [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a\u0000"}]
    assert clean_trace({"messages": answer}, mapping, **keep)["response"] == "a\u0000"
    refused = [
        {"question": "q\u0000", "response": "a"},
        {"question": "q", "response": "a", "metadata": {"m": "\u0000"}},
        {"messages": [{"role": "user", "content": "q\u0000"}, {"role": "assistant", "content": "a"}]},
        # A prompt's own assistant turn (not the response) is stored with the prompt.
        {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "\u0000"}],
         "response": "a"},
    ]  # fmt: skip
    for line in refused:
        with pytest.raises(RecordError, match="NUL"):
            clean_trace(line, mapping, **keep)
    with pytest.raises(RecordError, match="NUL"):
        clean_trace({"question": "q", "response": "a\u0000"}, mapping)


def test_a_csv_unreadable_half_way_writes_nothing_even_with_allow_partial(project):
    # Good lines past the decoder's first chunk, then bytes that are not UTF-8,
    # then more good lines that can no longer be read.
    good_lines = b"".join(b"g%d,question %d\n" % (i, i) for i in range(2000))
    data = b"id,prompt\n" + good_lines + b"c,caf\xe9\n" + b"d,later\n" * 100
    report = import_stream(
        project=project,
        stream=io.BytesIO(data),
        kind="prompts",
        file_format="csv",
        allow_partial=True,
    )
    assert not report["written"]
    assert "must be UTF-8" in report["errors"][-1]["error"]
    assert Prompt.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_progress_shows_while_the_one_transaction_is_open(project, user, monkeypatch, settings):
    """Other connections (the progress page) see bytes_done move during the write."""
    from django.db import connection

    if connection.vendor == "sqlite":
        pytest.skip("SQLite has one writer: progress shows after the validation pass only")
    monkeypatch.setattr(services, "BATCH_SIZE", 2)
    seen: list[int] = []
    real = REAL_WRITER("traces")

    def write(project, records):
        observer = connection.copy()
        try:
            with observer.cursor() as cursor:
                cursor.execute("SELECT bytes_done FROM prompts_importjob")
                seen.append(cursor.fetchone()[0])
        finally:
            observer.close()
        return real(project, records)

    monkeypatch.setattr(services, "writer_for", lambda kind, *a, **k: write)
    upload = SimpleUploadedFile("t.jsonl", jsonl(*(good(i) for i in range(9))))
    job = services.import_job_create(
        project=project, user=user, upload=upload, kind="traces", file_format="jsonl", mapping={}
    )
    assert job.state == ImportJob.State.SUCCEEDED, job.errors
    assert seen[-1] > seen[0] > 0, seen  # moving, and visible outside the transaction
