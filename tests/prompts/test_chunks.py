"""Large trace imports written in chunks, across workers (``prompts.chunks``)."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import orjson
import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import DataError, connection
from django.utils import timezone

from reflectlab.prompts import chunks, tasks
from reflectlab.prompts.models import ImportChunk, ImportJob, Prompt
from reflectlab.prompts.services import import_job_create, writer_for
from reflectlab.traces.models import Trace
from tests.conftest import _start_worker, _stop_workers, _worker_env

CHUNK = 4
CHUNK_RECEIVED = re.compile(r"import_chunk_task\[[0-9a-f-]+\] received")


def line(i: int, *, prompt: int | None = None, response: str | None = None, tid=None) -> bytes:
    """Trace ``t<i>`` of prompt ``p<prompt>`` (by default three traces a prompt), correct."""
    p = prompt if prompt is not None else i // 3
    record = {
        "id": tid or f"t{i}",
        "prompt_id": f"p{p}",
        "question": f"What is {p} + 1?",
        "reference_answer": str(p + 1),
        "response": response
        or f"<think>So {p} + 1 = {p + 1}. Wait, check trace {i}: yes.</think>\\boxed{{{p + 1}}}",
    }
    return orjson.dumps(record) + b"\n"


def make_job(project, data: bytes, *, allow_partial: bool = False) -> ImportJob:
    return ImportJob.objects.create(
        project=project,
        kind=ImportJob.Kind.TRACES,
        file=ContentFile(data, name="traces.jsonl"),
        file_format="jsonl",
        allow_partial=allow_partial,
        bytes_total=len(data),
    )


@pytest.fixture(autouse=True)
def small_chunks(settings):
    settings.REFLECTLAB_IMPORT_CHUNK_ROWS = CHUNK


def run(job: ImportJob) -> None:
    """The job's worker, then the chunk tasks it queued (on SQLite it wrote them itself;
    on PostgreSQL inside a test transaction the queueing, after commit, never fires)."""
    chunks.import_job_run(job_id=job.pk)
    pending = ImportChunk.objects.filter(job=job).exclude(state__in=ImportChunk.TERMINAL)
    for chunk_id in pending.values_list("pk", flat=True):
        chunks.import_chunk_execute(chunk_id=chunk_id)


def test_chunks_cut_the_file_at_line_starts_and_every_line_is_written_once(project):
    data = b"".join(line(i) for i in range(10))
    job = make_job(project, data)
    run(job)
    job.refresh_from_db()
    assert job.state == ImportJob.State.SUCCEEDED, job.errors
    assert (job.rows_written, job.rows_skipped, job.rows_rejected) == (10, 0, 0)
    assert job.bytes_done == job.bytes_total
    rows = list(ImportChunk.objects.filter(job=job).order_by("index"))
    starts = [0]
    for raw in data.splitlines(keepends=True):
        starts.append(starts[-1] + len(raw))
    assert [(c.line_lo, c.line_hi) for c in rows] == [(1, 5), (5, 9), (9, 11)]
    assert [(c.byte_lo, c.byte_hi) for c in rows] == [(starts[0], starts[4]), (starts[4], starts[8]),
                                                      (starts[8], starts[10])]  # fmt: skip
    assert all(c.state == ImportChunk.State.DONE for c in rows)
    traces = Trace.objects.filter(project=project)
    assert sorted(traces.values_list("external_id", flat=True)) == sorted(
        f"t{i}" for i in range(10)
    )
    assert set(traces.values_list("import_job", flat=True)) == {job.pk}
    assert all(t.final_correct for t in traces)
    assert Prompt.objects.filter(project=project).count() == 4


def test_an_id_repeated_in_another_chunk_is_written_once_and_counted_skipped(project):
    data = b"".join([line(0), line(1), line(2), line(3), line(4), line(0), line(6)])
    job = make_job(project, data)
    run(job)
    job.refresh_from_db()
    assert job.state == ImportJob.State.SUCCEEDED, job.errors
    assert (job.rows_written, job.rows_skipped) == (6, 1)
    assert Trace.objects.filter(project=project, external_id="t0").count() == 1
    assert ImportChunk.objects.get(job=job, index=1).skip_lines == [6]


def test_an_id_reused_with_other_content_in_another_chunk_writes_nothing(project):
    data = b"".join([*(line(i) for i in range(6)), line(9, tid="t1")])
    job = make_job(project, data)
    run(job)
    job.refresh_from_db()
    assert job.state == ImportJob.State.FAILED
    assert job.errors == [
        {"line": 7, "error": "id 't1' is already used on line 2 with different content."}
    ]
    assert (Trace.objects.count(), Prompt.objects.count(), ImportChunk.objects.count()) == (0, 0, 0)


@pytest.mark.parametrize("bad_line", [1, 6, 11])
def test_a_bad_line_anywhere_writes_nothing(project, bad_line):
    lines = [line(i) for i in range(11)]
    lines[bad_line - 1] = b'{"id": "broken", "response": 5\n'
    job = make_job(project, b"".join(lines))
    run(job)
    job.refresh_from_db()
    assert job.state == ImportJob.State.FAILED
    assert [e["line"] for e in job.errors] == [bad_line]
    assert (Trace.objects.count(), Prompt.objects.count()) == (0, 0)


def test_allow_partial_keeps_the_files_line_numbers_in_the_merged_report(project):
    lines = [line(i) for i in range(10)]
    lines[6] = b"[1]\n"
    job = make_job(project, b"".join(lines), allow_partial=True)
    run(job)
    job.refresh_from_db()
    assert job.state == ImportJob.State.SUCCEEDED
    assert (job.rows_written, job.rows_rejected) == (9, 1)
    assert job.errors == [{"line": 7, "error": "Each line must be a JSON object."}]


def crash_on_chunk(monkeypatch, index: int, exc: Exception | None = None) -> None:
    """The real writer, except that it raises while writing the lines of chunk ``index``."""

    def writer(kind, import_job_id=None, *, key_order=False):
        real = writer_for(kind, import_job_id, key_order=key_order)

        def write(project, records):
            first = int(records[0]["external_id"][1:])
            if first // CHUNK == index:
                raise exc or DataError("value too long for type character varying(32)")
            return real(project, records)

        return write

    monkeypatch.setattr(chunks, "writer_for", writer)


def test_a_chunk_that_fails_fails_the_job_and_leaves_nothing_behind(project, monkeypatch):
    # Rows from before the job stay: the clean-up deletes only what the job wrote.
    before = make_job(project, line(100, prompt=0, tid="t100"))
    run(before)
    crash_on_chunk(monkeypatch, 1)
    job = make_job(project, b"".join(line(i) for i in range(11)))
    run(job)
    job.refresh_from_db()
    assert job.state == ImportJob.State.FAILED
    assert (job.rows_written, job.rows_skipped) == (0, 0)
    assert job.errors[-1] == {
        "line": None,
        "error": "Import failed (DataError) while writing lines 5-8; nothing was written. "
        "The server log has the details.",
    }
    assert list(Trace.objects.values_list("external_id", flat=True)) == ["t100"]
    assert list(Prompt.objects.values_list("external_id", flat=True)) == ["p0"]
    states = dict(ImportChunk.objects.filter(job=job).values_list("index", "state"))
    # Chunk 0 was written (then deleted), chunk 2 never started.
    assert states == {0: "done", 1: "failed", 2: "stopped"}


def test_with_allow_partial_a_failed_chunk_keeps_and_counts_what_was_written(project, monkeypatch):
    # A crash, not a refused value (allow_partial retries those line by line).
    crash_on_chunk(monkeypatch, 1, RuntimeError("analysis crashed"))
    job = make_job(project, b"".join(line(i) for i in range(11)), allow_partial=True)
    run(job)
    job.refresh_from_db()
    assert job.state == ImportJob.State.FAILED
    assert job.rows_written == Trace.objects.count() == 4
    assert "4 rows were written before it stopped" in job.errors[-1]["error"]


def test_a_chunk_taken_over_after_its_worker_died_writes_each_trace_once(project):
    job = make_job(project, b"".join(line(i) for i in range(10)))
    run(job)
    chunk = ImportChunk.objects.get(job=job, index=1)
    # As if its worker died after writing: running, lease lapsed, job not ended.
    ImportChunk.objects.filter(pk=chunk.pk).update(
        state="running", holder="gone:1:x", lease_until=timezone.now() - timedelta(seconds=1)
    )
    ImportJob.objects.filter(pk=job.pk).update(state="running", rows_written=0)
    run(job)  # the job resumed at worker start
    job.refresh_from_db()
    assert job.state == ImportJob.State.SUCCEEDED
    assert (job.rows_written, job.rows_skipped) == (10, 0)
    assert Trace.objects.count() == 10


def test_a_finished_chunk_runs_again_as_a_no_op(project):
    job = make_job(project, b"".join(line(i) for i in range(6)))
    run(job)
    chunk = ImportChunk.objects.get(job=job, index=0)
    chunks.import_chunk_execute(chunk_id=chunk.pk)
    assert ImportChunk.objects.get(pk=chunk.pk).state == "done"
    assert Trace.objects.count() == 6


def test_prompt_imports_and_csv_are_not_chunked(project, settings):
    assert chunks.is_chunked(make_job(project, line(0)))
    csv_job = make_job(project, b"id,response\n")
    csv_job.file_format = "csv"
    assert not chunks.is_chunked(csv_job)
    settings.REFLECTLAB_IMPORT_CHUNK_ROWS = 0
    assert not chunks.is_chunked(make_job(project, line(0)))


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("celery_worker_env", [{"REFLECTLAB_IMPORT_CHUNK_ROWS": "5"}])
def test_two_real_workers_write_the_chunks(
    celery_worker_processes, settings, project, user, tmp_path
):
    settings.REFLECTLAB_SYNC_IMPORT_MAX_BYTES = 0
    logs = [tmp_path / f"worker-{i}.log" for i in range(2)]
    deadline = time.monotonic() + 60
    while not all(" ready." in log.read_text() for log in logs) and time.monotonic() < deadline:
        time.sleep(0.2)
    # 40 traces in 8 chunks; one id repeated across chunks, prompts shared across chunks.
    data = b"".join([*(line(i, prompt=i // 7) for i in range(40)), line(3, prompt=0)])
    upload = SimpleUploadedFile("t.jsonl", data)
    job = import_job_create(
        project=project, user=user, upload=upload, kind="traces", file_format="jsonl", mapping=None
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.is_terminal:
            break
        time.sleep(0.3)
    assert job.state == ImportJob.State.SUCCEEDED, job.errors
    assert (job.rows_written, job.rows_skipped, job.rows_rejected) == (40, 1, 0)
    assert ImportChunk.objects.filter(job=job, state="done").count() == 9
    assert Trace.objects.filter(project=project).count() == 40
    assert Prompt.objects.filter(project=project).count() == 6
    received = [len(CHUNK_RECEIVED.findall(log.read_text())) for log in logs]
    if connection.vendor == "sqlite":  # one writer: the job's worker wrote them in turn
        assert received == [0, 0]
    else:
        assert sum(received) == 9 and all(received), f"chunks per worker: {received}"


def test_progress_is_the_validation_then_the_sum_over_chunks(project, monkeypatch):
    job = make_job(project, b"".join(line(i) for i in range(10)))
    with monkeypatch.context() as m:
        m.setattr(chunks, "_write_chunks", lambda job_id, **kw: None)  # plan only
        chunks.import_job_run(job_id=job.pk)
    job.refresh_from_db()
    assert (job.state, job.bytes_done) == ("running", job.bytes_total // 2)
    first, *rest = ImportChunk.objects.filter(job=job).order_by("index")
    chunks.import_chunk_execute(chunk_id=first.pk)
    job.refresh_from_db()
    assert job.state == "running"
    assert job.bytes_done == job.bytes_total // 2 + (first.byte_hi - first.byte_lo) // 2
    for chunk in rest:
        chunks.import_chunk_execute(chunk_id=chunk.pk)
    job.refresh_from_db()
    assert (job.state, job.bytes_done, job.rows_written) == ("succeeded", job.bytes_total, 10)


@pytest.mark.skipif(
    "connection.vendor == 'sqlite'", reason="SQLite: the job's worker writes the chunks"
)
def test_the_job_watches_its_chunks_and_requeues_only_those_whose_worker_died(
    project, monkeypatch, django_capture_on_commit_callbacks
):
    queued, later = [], []
    monkeypatch.setattr(chunks, "chunks_enqueue", lambda task, args: queued.append(list(args)))
    monkeypatch.setattr(tasks.import_job_task, "apply_async", lambda *a, **k: later.append((a, k)))
    job = make_job(project, b"".join(line(i) for i in range(10)))
    with django_capture_on_commit_callbacks(execute=True):
        chunks.import_job_run(job_id=job.pk)
    first, second, third = ImportChunk.objects.filter(job=job).order_by("index")
    assert queued == [[(first.pk,), (second.pk,), (third.pk,)]]
    # Planned and queued: it will look again once its claim of the job has lapsed.
    [(args, options)] = later
    assert args == ((job.pk,), {"watch": True})
    assert options["countdown"] > 1
    # The first chunk's worker died mid-chunk; the second is being written; the third waits.
    ImportChunk.objects.filter(pk=first.pk).update(
        state="running", holder="gone:1:x", lease_until=timezone.now() - timedelta(seconds=1)
    )
    ImportChunk.objects.filter(pk=second.pk).update(
        state="running", holder="alive:2:y", lease_until=timezone.now() + timedelta(seconds=60)
    )
    ImportJob.objects.filter(pk=job.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
    queued.clear()
    later.clear()
    with django_capture_on_commit_callbacks(execute=True):
        chunks.import_job_run(job_id=job.pk, watch=True)
    assert queued == [[(first.pk,)]]
    assert len(later) == 1  # and it keeps watching
    # Once every chunk has ended, the watch settles the job and stops watching.
    ImportChunk.objects.filter(job=job).update(state="done", holder="", lease_until=None)
    ImportJob.objects.filter(pk=job.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
    later.clear()
    with django_capture_on_commit_callbacks(execute=True):
        chunks.import_job_run(job_id=job.pk, watch=True)
    job.refresh_from_db()
    assert job.state == "succeeded"
    assert later == []


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    "connection.vendor == 'sqlite'", reason="SQLite: the job's worker writes the chunks"
)
@pytest.mark.parametrize(
    "celery_worker_env",
    [{"REFLECTLAB_IMPORT_CHUNK_ROWS": "5", "REFLECTLAB_JOB_LEASE_SECONDS": "2"}],
)
def test_a_worker_killed_mid_chunk_leaves_each_trace_written_once(
    celery_worker_processes, celery_worker_env, settings, project, user, tmp_path
):
    settings.REFLECTLAB_SYNC_IMPORT_MAX_BYTES = 0
    victim = celery_worker_processes[0]
    n = 200
    data = b"".join(line(i, prompt=i // 7) for i in range(n))
    job = import_job_create(
        project=project,
        user=user,
        upload=SimpleUploadedFile("t.jsonl", data),
        kind="traces",
        file_format="jsonl",
        mapping=None,
    )
    held = ImportChunk.objects.filter(job=job, state="running", holder__contains=f":{victim.pid}:")
    deadline = time.monotonic() + 120
    while not held.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert held.exists(), "the first worker never held a chunk"
    victim.kill()  # SIGKILL mid-chunk: its message stays unacknowledged, its lease lapses
    victim.wait()
    # Its supervisor starts it again (a worker's start resumes lapsed jobs).
    with (tmp_path / "worker-restarted.log").open("w") as log:
        restarted = _start_worker(_worker_env(celery_worker_env), log, "restarted")
        try:
            while time.monotonic() < deadline:
                job.refresh_from_db()
                if job.is_terminal:
                    break
                time.sleep(0.3)
        finally:
            _stop_workers([restarted])
    assert job.state == ImportJob.State.SUCCEEDED, job.errors
    assert (job.rows_written, job.rows_skipped) == (n, 0)
    assert Trace.objects.filter(project=project).count() == n
    assert not ImportChunk.objects.filter(job=job).exclude(state="done").exists()
