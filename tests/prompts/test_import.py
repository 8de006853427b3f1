from __future__ import annotations

import io
import json
import time

import orjson
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

from reflectlab.prompts.models import ImportJob, Prompt
from reflectlab.prompts.services import import_stream
from reflectlab.traces.models import Trace


def jsonl(*records) -> io.BytesIO:
    return io.BytesIO(b"".join(orjson.dumps(r) + b"\n" for r in records))


def test_prompt_import_reads_default_field_names(project):
    report = import_stream(
        project=project,
        stream=jsonl(
            {"id": "a", "prompt": "1+1?", "reference_answer": "2", "metadata": {"src": "t"}},
            {"id": "b", "messages": [{"role": "user", "content": "2+2?"}]},
        ),
        kind="prompts",
        file_format="jsonl",
    )
    assert report["rows_written"] == 2
    a = Prompt.objects.get(project=project, external_id="a")
    assert (a.text, a.reference_answer, a.metadata) == ("1+1?", "2", {"src": "t"})
    assert Prompt.objects.get(external_id="b").display_text == "2+2?"


def test_a_file_with_one_bad_line_writes_nothing_and_names_the_line(project):
    report = import_stream(
        project=project,
        stream=io.BytesIO(b'{"id": "a", "prompt": "ok"}\n{"id": "b"}\nnot json\n[1]\n'),
        kind="prompts",
        file_format="jsonl",
    )
    assert not report["written"]
    assert [e["line"] for e in report["errors"]] == [2, 3, 4]
    assert "Missing prompt" in report["errors"][0]["error"]
    assert "Invalid JSON" in report["errors"][1]["error"]
    assert Prompt.objects.count() == 0


def test_allow_partial_writes_the_good_lines(project):
    report = import_stream(
        project=project,
        stream=io.BytesIO(b'{"id": "a", "prompt": "ok"}\n{"id": "b"}\n'),
        kind="prompts",
        file_format="jsonl",
        allow_partial=True,
    )
    assert report["rows_written"] == 1 and report["rows_rejected"] == 1


def test_reimporting_the_same_file_changes_nothing(project):
    data = jsonl({"id": "a", "prompt": "x"}, {"id": "b", "prompt": "y"}).getvalue()
    import_stream(project=project, stream=io.BytesIO(data), kind="prompts", file_format="jsonl")
    report = import_stream(
        project=project, stream=io.BytesIO(data), kind="prompts", file_format="jsonl"
    )
    assert (report["rows_written"], report["rows_skipped"]) == (0, 2)
    assert Prompt.objects.filter(project=project).count() == 2


def test_csv_with_a_mapping_and_json_cells(project):
    data = b'qid,question,gold,meta\nq1,"What is 3*3?",9,"{""level"": 1}"\n'
    report = import_stream(
        project=project,
        stream=io.BytesIO(data),
        kind="prompts",
        file_format="csv",
        mapping={
            "external_id": "qid",
            "prompt": "question",
            "reference_answer": "gold",
            "metadata": "meta",
        },
    )
    assert report["rows_written"] == 1, report
    prompt = Prompt.objects.get(external_id="q1")
    assert prompt.metadata == {"level": 1} and prompt.reference_answer == "9"


def test_unknown_mapping_targets_are_refused(project):
    with pytest.raises(ValueError, match="Unknown mapping target"):
        import_stream(
            project=project,
            stream=jsonl({"prompt": "x"}),
            kind="prompts",
            file_format="jsonl",
            mapping={"nonsense": "x"},
        )


def test_trace_import_keeps_the_raw_response_byte_for_byte_and_analyses_it(project):
    response = "Let me think.\r\n\n2+2=4.\n\nWait, check: 4. \u202e\n</think>\n\n\\boxed{4}"
    import_stream(
        project=project,
        stream=jsonl(
            {
                "id": "t1",
                "question": "2+2?",
                "reference_answer": "4",
                "response": response,
                "model": "m",
            }
        ),
        kind="traces",
        file_format="jsonl",
    )
    trace = Trace.objects.get(external_id="t1")
    assert trace.raw_response == response
    assert trace.final_correct is True
    assert trace.has_reflection
    assert trace.analysis["steps"]


def test_trace_import_accepts_openai_objects_and_chat_messages(project):
    openai = {
        "id": "chatcmpl-1",
        "prompt": "What is 1+1?",
        "response": {
            "model": "served-model",
            "choices": [
                {
                    "message": {
                        "role": "assistant",
                        "content": "\\boxed{2}",
                        "reasoning_content": "1+1=2",
                    },
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 5, "completion_tokens": 7},
        },
    }
    chat = {
        "id": "chat-1",
        "messages": [
            {"role": "user", "content": "What is 1+1?"},
            {"role": "assistant", "content": "<think>1+1=2</think>\\boxed{2}"},
        ],
    }
    report = import_stream(
        project=project, stream=jsonl(openai, chat), kind="traces", file_format="jsonl"
    )
    assert report["rows_written"] == 2, report
    first = Trace.objects.get(external_id="chatcmpl-1")
    assert (first.reasoning, first.model_name, first.completion_tokens) == (
        "1+1=2",
        "served-model",
        7,
    )
    second = Trace.objects.get(external_id="chat-1")
    assert second.raw_response.startswith("<think>")
    # Both traces answer the same question text: they share one prompt.
    assert first.prompt_id == second.prompt_id


def test_upload_page_imports_and_shows_the_report(logged_in, project):
    upload = SimpleUploadedFile("p.jsonl", b'{"id": "a", "prompt": "x"}\n{"id": 5}\n')
    response = logged_in.post(
        f"/projects/{project.pk}/import/prompts/", {"file": upload, "file_format": "auto"}
    )
    assert response.status_code == 302
    job = ImportJob.objects.get()
    page = logged_in.get(response["Location"])
    assert b"Nothing was written" in page.content and b"Missing prompt" in page.content
    assert job.state == "failed" and job.rows_rejected == 1


def test_import_status_partial_stops_polling_when_done(logged_in, project):
    upload = SimpleUploadedFile("p.jsonl", b'{"id": "a", "prompt": "x"}\n')
    logged_in.post(
        f"/projects/{project.pk}/import/prompts/", {"file": upload, "file_format": "auto"}
    )
    job = ImportJob.objects.get()
    response = logged_in.get(
        f"/projects/{project.pk}/imports/{job.pk}/", headers={"HX-Request": "true"}
    )
    assert response.status_code == 286
    assert b'id="import-status"' in response.content and b"<html" not in response.content


def test_api_import_reports_errors_by_line(api, project):
    upload = SimpleUploadedFile(
        "p.jsonl",
        b'{"id": "a", "prompt": "x"}\n{"id": "b", "prompt": 3.5}\n{"id": "c", "metadata": 1, "prompt": "z"}\n',
    )
    response = api.post(
        f"/api/v1/projects/{project.pk}/prompts/import", {"file": upload}, format="multipart"
    )
    assert response.status_code == 400
    assert response.json()["errors"] == [{"line": 3, "error": "metadata must be a JSON object."}]


def test_management_command_imports_traces(project, tmp_path, capsys):
    path = tmp_path / "t.jsonl"
    path.write_text(
        json.dumps({"id": "x", "question": "q", "response": "a</think>\\boxed{1}"}) + "\n"
    )
    call_command("import_file", str(project.pk), str(path), "--kind", "traces", verbosity=0)
    assert Trace.objects.filter(project=project).count() == 1
    assert "1 written" in capsys.readouterr().out


@pytest.mark.worker
def test_a_large_import_runs_on_a_real_worker(celery_worker_process, settings, project, user):
    from reflectlab.prompts.services import import_job_create

    settings.REFLECTLAB_SYNC_IMPORT_MAX_BYTES = 0
    upload = SimpleUploadedFile(
        "p.jsonl",
        b"".join(orjson.dumps({"id": f"p{i}", "prompt": f"q{i}"}) + b"\n" for i in range(300)),
    )
    job = import_job_create(
        project=project, user=user, upload=upload, kind="prompts", file_format="jsonl", mapping=None
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.is_terminal:
            break
        time.sleep(0.2)
    assert job.state == ImportJob.State.SUCCEEDED, job.errors
    assert job.rows_written == 300
    assert Prompt.objects.filter(project=project).count() == 300
