"""Chunked imports (issue 16): the same file of real traces imported by 1 and then by 2
real Celery worker processes (``prompts.chunks``), and with the shared grading cache
cold and then warm.

Every run is an import job of the same stored upload into a fresh project, on
the same PostgreSQL database, timed from queueing the job to its end (the
validation pass on one worker included); workers start before the timing, so
each run begins with cold per-process caches. Runs 1 and 2 empty the shared
grading cache first; run 3 keeps what run 2 stored, which is what a worker that
starts on a project whose references were graded before sees. The speed-up is
bounded by the machine's cores (2 here) and by what else runs: each run also
prints how many chunks each worker ran and its seconds in them (from the worker
logs), which shows whether the work split and whether the cores were free.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _django import drop_database, fresh_database, setup_django, shared_data_dir
from bench_reanalyze import start_workers, stop

N = int(os.environ.get("BENCH_IMPORT_PARALLEL_ROWS", "2000"))
CHUNK = int(os.environ.get("BENCH_IMPORT_PARALLEL_CHUNK", "200"))
DB = "reflectlab_bench_import_parallel"


def stored_upload(path: Path) -> tuple[str, int]:
    import bench_import
    from django.core.files import File

    from reflectlab.core.storage import uploads_storage

    bench_import.N = N
    size = bench_import.replicated_file(path)
    with path.open("rb") as stream:
        name = uploads_storage().save("imports/bench/traces.jsonl", File(stream))
    return name, size


def timed_import(label: str, name: str, size: int, workers: int, env: dict, logs: Path,
                 *, cold: bool) -> tuple[float, int]:  # fmt: skip
    from reflectlab.projects.models import Project
    from reflectlab.prompts.models import ImportJob
    from reflectlab.prompts.tasks import import_job_task
    from reflectlab.traces.models import GradeCacheEntry

    if cold:
        GradeCacheEntry.objects.all().delete()
    project = Project.objects.create(name=f"bench {label}")
    run_logs = logs / label
    run_logs.mkdir()
    procs = start_workers(workers, env, run_logs)
    try:
        job = ImportJob.objects.create(
            project=project, kind="traces", file=name, file_format="jsonl", bytes_total=size
        )
        started = time.perf_counter()
        import_job_task.delay(job.pk)
        while not job.is_terminal:
            time.sleep(0.1)
            job.refresh_from_db()
        elapsed = time.perf_counter() - started
    finally:
        stop(procs)
    assert job.state == "succeeded" and job.rows_written == N, (job.state, job.errors[-3:])
    busy = [_chunk_seconds(log.read_text()) for log in sorted(run_logs.glob("*.log"))]
    print(f"  run {label}: chunks per worker {[n for n, _ in busy]}, "
          f"seconds in chunk tasks {[round(t, 1) for _, t in busy]}")  # fmt: skip
    return elapsed, job.chunks.count()


_SUCCEEDED = re.compile(r"import_chunk_task\[[^\]]+\] succeeded in ([0-9.]+)s")


def _chunk_seconds(log: str) -> tuple[int, float]:
    """How many chunk tasks a worker ran, and for how long (its log)."""
    times = [float(t) for t in _SUCCEEDED.findall(log)]
    return len(times), sum(times)


def main() -> int:
    if not (shared_data_dir() / "traces").is_dir():
        print(f"skipped: no shared traces at {shared_data_dir()}")
        return 0
    var = tempfile.mkdtemp(prefix="bench-import-parallel-")
    os.environ["REFLECTLAB_VAR_DIR"] = var  # uploads (and a filesystem broker) of its own
    os.environ.setdefault("CELERY_BROKER_URL", "filesystem://")
    os.environ["REFLECTLAB_IMPORT_CHUNK_ROWS"] = str(CHUNK)
    try:
        url = fresh_database(DB)
        setup_django(url)
    except Exception as exc:
        print(f"skipped: PostgreSQL unavailable ({exc})")
        return 0
    from reflectlab.celery import app
    from reflectlab.traces.models import GradeCacheEntry

    app.control.purge()
    env = {**os.environ, "DATABASE_URL": url, "DEBUG": "0"}
    logs = Path(var)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            name, size = stored_upload(Path(tmp) / "traces.jsonl")
        one, chunks = timed_import("1", name, size, 1, env, logs, cold=True)
        two, _ = timed_import("2", name, size, 2, env, logs, cold=True)
        cached = GradeCacheEntry.objects.count()
        warm, _ = timed_import("2w", name, size, 2, env, logs, cold=False)
        print(f"{N} real traces, {size / 1e6:.1f} MB, {chunks} chunks of {CHUNK} lines, "
              "PostgreSQL, real workers; validation + analysis + grading + store")  # fmt: skip
        print(f"1 worker  (baseline)          {one:6.2f} s  {N / one:6.0f} traces/s")
        print(f"2 workers                     {two:6.2f} s  {N / two:6.0f} traces/s")
        print(f"speed-up (2 cores)            {one / two:.2f}x")
        print(f"2 workers, warm grading cache {warm:6.2f} s  {N / warm:6.0f} traces/s "
              f"({cached} shared grades)")  # fmt: skip
        print(f"warm / cold grading cache     {two / warm:.2f}x")
    finally:
        if not os.environ.get("BENCH_KEEP_DB"):
            drop_database(DB)
    return 0


if __name__ == "__main__":
    sys.exit(main())
