"""Run orchestration benchmark (DESIGN §11): N requests to an OpenAI-compatible
server answering after L seconds, concurrency C, through the real Celery path
(a real worker process, the real broker, the real database). Prints the wall
time and its ratio to the ideal N x L / C (target <= 1.25).

    .venv/bin/python bench/bench_runs.py [--requests 2000] [--latency 0.2] [--concurrency 64]

Like the other benches it uses a throwaway PostgreSQL database
(``reflectlab_bench_runs`` next to ``BENCH_DATABASE_URL``, dropped afterwards);
without BENCH_DATABASE_URL, SQLite in a temporary directory. Redis when
CELERY_BROKER_URL is set, else the filesystem broker. The filesystem broker is polled (kombu's
default: every second), which shows as "task started" in the timeline.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _django import drop_database, fresh_database  # noqa: E402

DB = "reflectlab_bench_runs"


def setup_django(var_dir: str) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "reflectlab.settings")
    if not os.environ.get("SECRET_KEY"):
        os.environ.setdefault("DEBUG", "1")
    os.environ["REFLECTLAB_VAR_DIR"] = var_dir
    # The workers inherit this environment, so they use the same database.
    if os.environ.get("BENCH_DATABASE_URL"):
        os.environ["DATABASE_URL"] = fresh_database(DB)
    else:
        os.environ.pop("DATABASE_URL", None)
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def start_worker(log_path: Path, index: int) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "reflectlab", "worker", "-Q", "models",
         "-P", "solo", "-n", f"bench{index}@%h", "-l", "info",
         "--without-mingle", "--without-gossip", "--without-heartbeat"],
        cwd=ROOT, env=os.environ.copy(), stdout=log_path.open("w"), stderr=subprocess.STDOUT,
    )  # fmt: skip


def wait_ready(log_path: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if "ready." in log_path.read_text(errors="replace"):
            return
        time.sleep(0.1)
    raise SystemExit(f"worker did not start; see {log_path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--workers", type=int, default=1, help="worker processes")
    args = parser.parse_args()

    tmp = tempfile.TemporaryDirectory(prefix="bench-runs-")
    os.environ["REFLECTLAB_RUN_TASKS"] = str(args.workers)
    setup_django(tmp.name)

    from django.db import connection
    from django.db.models import Max, Min

    from reflectlab.celery import app
    from reflectlab.projects.models import Project
    from reflectlab.prompts.models import Prompt
    from reflectlab.providers.models import ModelConfig
    from reflectlab.providers.testing import FakeOpenAIServer
    from reflectlab.runs.models import EndpointSlot, Run
    from reflectlab.runs.services import run_create
    from reflectlab.traces.models import Trace

    server = FakeOpenAIServer(latency=args.latency).start()
    project = Project.objects.create(name="bench-runs")
    Prompt.objects.bulk_create(
        [
            Prompt(
                project=project,
                external_id=f"b{i}",
                text=f"What is 2 + 3? #{i}",
                reference_answer="5",
            )
            for i in range(args.requests)
        ],
        batch_size=1000,
    )
    config = ModelConfig.objects.create(
        project=project, name="bench", base_url=server.base_url, model="fake-model",
        max_concurrency=args.concurrency, timeout_seconds=30, max_retries=2,
    )  # fmt: skip
    app.control.purge()
    logs = [Path(tmp.name) / f"worker{i}.log" for i in range(args.workers)]
    workers = [start_worker(log, i) for i, log in enumerate(logs)]
    try:
        for log in logs:
            wait_ready(log)
        started = time.perf_counter()
        run = run_create(project=project, model_config=config, user=None)
        while True:
            run.refresh_from_db()
            if run.is_terminal:
                break
            time.sleep(0.05)
        wall = time.perf_counter() - started
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait(30)
        server.stop()
    # CPU of the (reaped) worker processes, start-up included: less noisy than
    # the wall time on a shared machine.
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    worker_cpu = usage.ru_utime + usage.ru_stime

    ideal = args.requests * args.latency / args.concurrency
    traces = Trace.objects.filter(run=run).count()
    first_trace, last_trace = (
        Trace.objects.filter(run=run)
        .aggregate(first=Min("created_at"), last=Max("created_at"))
        .values()
    )
    print(f"runs: {args.requests} requests x {args.latency * 1000:.0f} ms at concurrency "
          f"{args.concurrency}, {args.workers} worker process(es), {connection.vendor}")  # fmt: skip
    print(f"  state {run.state}: {run.items_done} done, {run.items_failed} failed, {traces} traces")
    print(
        f"  max requests in flight at the server: {server.max_in_flight} (limit {args.concurrency})"
    )
    if first_trace is not None and run.started_at and run.finished_at:
        # Where the wall time goes: task start, the requests themselves, the tail.
        def since(t):
            return (t - run.created_at).total_seconds()

        print(
            f"  timeline from run_create: task started {since(run.started_at):.2f} s, "
            f"first trace written {since(first_trace):.2f} s, last {since(last_trace):.2f} s, "
            f"run finished {since(run.finished_at):.2f} s"
        )
    print(f"  worker CPU {worker_cpu:.2f} s ({1000 * worker_cpu / args.requests:.2f} ms/request)")
    print(f"  wall {wall:.2f} s, ideal {ideal:.2f} s, ratio {wall / ideal:.2f} (target <= 1.25)")
    EndpointSlot.objects.filter(endpoint=server.base_url.lower()).delete()
    Run.objects.filter(pk=run.pk).delete()
    project.delete()
    if os.environ.get("BENCH_DATABASE_URL"):
        drop_database(DB)
    tmp.cleanup()
    if run.items_done != args.requests or server.max_in_flight > args.concurrency:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
