"""Parallel re-analysis (issue 16): the same stale traces re-analysed by 1 and then by 2
real Celery worker processes, chunk tasks over id ranges (``traces.parallel``).

Both sides run in this one process's run, on the same PostgreSQL database and
the same traces (real ones, replicated from ../shared/data); worker start-up
is outside the timing (each worker is ready before the chunks are queued). The
speed-up is bounded by the machine's cores (2 here) and by what else runs.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _django import ROOT, drop_database, fresh_database, setup_django, shared_data_dir

N = int(os.environ.get("BENCH_REANALYZE_ROWS", "6000"))
CHUNK = int(os.environ.get("BENCH_REANALYZE_CHUNK", "250"))
DB = "reflectlab_bench_reanalyze"


def load(path: Path) -> None:
    from bench_import import replicated_file

    from reflectlab.projects.models import Project
    from reflectlab.prompts.services import import_stream

    os.environ["BENCH_IMPORT_ROWS"] = str(N)
    import bench_import

    bench_import.N = N
    replicated_file(path)
    project = Project.objects.create(name="bench")
    with path.open("rb") as stream:
        report = import_stream(project=project, stream=stream, kind="traces", file_format="jsonl")
    assert report["rows_written"] == N, report


def start_workers(n: int, env: dict, log_dir: Path) -> list[subprocess.Popen]:
    procs = []
    for i in range(n):
        log = log_dir / f"worker-{n}-{i}.log"
        procs.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "reflectlab",
                    "worker",
                    "-Q",
                    "default",
                    "-P",
                    "solo",
                    "-n",
                    f"bench{n}-{i}@%h",
                    "-l",
                    "info",
                    "--without-mingle",
                    "--without-gossip",
                    "--without-heartbeat",
                ],
                cwd=ROOT,
                env=env,
                stdout=log.open("w"),
                stderr=subprocess.STDOUT,
            )
        )
    deadline = time.monotonic() + 60
    for i in range(n):
        log = log_dir / f"worker-{n}-{i}.log"
        while " ready." not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.2)
    return procs


def stop(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        proc.terminate()
    for proc in procs:
        proc.wait(timeout=30)


def timed_run(workers: int, env: dict, log_dir: Path) -> float:
    from reflectlab.projects.models import Project
    from reflectlab.traces.models import GradeCacheEntry, Trace
    from reflectlab.traces.parallel import reanalysis_stale_count, reanalysis_start

    project = Project.objects.get(name="bench")
    Trace.objects.filter(project=project).update(analyzer_version="0")
    # Both runs grade cold: the shared grading cache (traces.grading) would
    # otherwise hand the second run every grade the first (and the load) stored.
    GradeCacheEntry.objects.all().delete()
    procs = start_workers(workers, env, log_dir)
    try:
        started = time.perf_counter()
        reanalysis_start(project=project, chunk=CHUNK)
        while reanalysis_stale_count(project=project):
            time.sleep(0.05)
        return time.perf_counter() - started
    finally:
        stop(procs)


def main() -> int:
    if not (shared_data_dir() / "traces").is_dir():
        print(f"skipped: no shared traces at {shared_data_dir()}")
        return 0
    var = tempfile.mkdtemp(prefix="bench-reanalyze-")
    os.environ["REFLECTLAB_VAR_DIR"] = var  # a private filesystem broker unless one is set
    os.environ.setdefault("CELERY_BROKER_URL", "filesystem://")
    try:
        url = fresh_database(DB)
        setup_django(url)
    except Exception as exc:
        print(f"skipped: PostgreSQL unavailable ({exc})")
        return 0
    env = {**os.environ, "DATABASE_URL": url, "DEBUG": "0"}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            load(Path(tmp) / "traces.jsonl")
            one = timed_run(1, env, Path(var))
            two = timed_run(2, env, Path(var))
        print(f"{N} real traces re-analysed, chunks of {CHUNK}, PostgreSQL, real workers")
        print(f"1 worker  (baseline)   {one:6.2f} s  {N / one:8.0f} traces/s")
        print(f"2 workers              {two:6.2f} s  {N / two:8.0f} traces/s")
        print(f"speed-up (2 cores)     {one / two:.2f}x")
    finally:
        drop_database(DB)
    return 0


if __name__ == "__main__":
    sys.exit(main())
