"""Judge-run benchmark (issue 15, DESIGN §11's run target applied to judges):
a critic judge over N traces against a fake judge server answering after L
seconds, concurrency C, through the real Celery path (a real worker process,
the real broker and database). Prints the wall time against the ideal
N x L / C (target <= 1.25, as for runs) and what the judge's answers became.

    .venv/bin/python bench/bench_judge.py [--traces 2000] [--latency 0.2] [--concurrency 64]

SQLite and the filesystem broker in a temporary directory by default;
PostgreSQL / Redis when DATABASE_URL / CELERY_BROKER_URL are set (the bench
project is deleted afterwards).
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import tempfile
import time
from pathlib import Path

from bench_runs import setup_django, start_worker, wait_ready

STEPS = ["We need 2 + 3.", "2 + 3 = 6.", "So the answer is 6.\n</think>\n\n\\boxed{6}"]
ANSWERS = ["The earliest error is in paragraph 1.\n\n\\boxed{1}", '{"first_error_step": 1}', "hmm"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--traces", type=int, default=2000)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument(
        "--no-baseline", dest="baseline", action="store_false",
        help="skip the plain run of the same requests",
    )  # fmt: skip
    args = parser.parse_args()

    tmp = tempfile.TemporaryDirectory(prefix="bench-judge-")
    setup_django(tmp.name)

    from django.db import connection

    from reflectlab.celery import app
    from reflectlab.judges import services
    from reflectlab.judges.models import JudgeSample, Suggestion
    from reflectlab.judges.testing import ScriptedJudgeServer
    from reflectlab.projects.models import Project
    from reflectlab.prompts.models import Prompt
    from reflectlab.providers.models import ModelConfig
    from reflectlab.runs.models import EndpointSlot, Run
    from reflectlab.runs.services import run_create
    from reflectlab.traces.analysis import analysis_columns
    from reflectlab.traces.models import Trace

    def script(text: str) -> str:  # a third each: boxed, JSON, unparseable
        match = re.search(r"#(\d+)", text)
        return ANSWERS[int(match.group(1)) % len(ANSWERS) if match else 0]

    server = ScriptedJudgeServer(script, latency=args.latency).start()
    project = Project.objects.create(name="bench-judge")
    prompts = Prompt.objects.bulk_create(
        [
            Prompt(project=project, external_id=f"j{i}", text=f"What is 2 + 3? #{i}",
                   reference_answer="5")
            for i in range(args.traces)
        ],
        batch_size=1000,
    )  # fmt: skip
    response = "\n\n".join(STEPS)
    columns = analysis_columns(response=response, reference="5")
    Trace.objects.bulk_create(
        [Trace(project=project, prompt=p, raw_response=response, **columns) for p in prompts],
        batch_size=1000,
    )
    config = ModelConfig.objects.create(
        project=project, name="bench-judge", base_url=server.base_url, model="fake-model",
        max_concurrency=args.concurrency, timeout_seconds=30, max_retries=2,
    )  # fmt: skip
    judge = services.judge_create(
        project=project, name="bench critic", kind="critic", model_config=config, user=None
    )
    app.control.purge()
    log = Path(tmp.name) / "worker.log"
    worker = start_worker(log, 0)
    try:
        wait_ready(log)
        started = time.perf_counter()
        run = services.judge_run_create(judge=judge, user=None)
        while True:
            run.refresh_from_db()
            if run.is_terminal:
                break
            time.sleep(0.05)
        wall = time.perf_counter() - started
        baseline = None
        if args.baseline:
            # The same requests as a plain run on the same engine, same worker, same moment.
            started = time.perf_counter()
            plain = run_create(project=project, model_config=config, user=None)
            while not plain.is_terminal:
                time.sleep(0.05)
                plain.refresh_from_db()
            baseline = time.perf_counter() - started
            Run.objects.filter(pk=plain.pk).delete()
    finally:
        worker.terminate()
        worker.wait(30)
        server.stop()
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    worker_cpu = usage.ru_utime + usage.ru_stime
    ideal = args.traces * args.latency / args.concurrency
    suggestions = Suggestion.objects.filter(run=run)
    print(f"judge: {args.traces} traces x {args.latency * 1000:.0f} ms at concurrency "
          f"{args.concurrency}, 1 worker process, {connection.vendor}")  # fmt: skip
    print(f"  state {run.state}: {run.items_done} answered ({run.items_unparsed} unparseable), "
          f"{run.items_failed} failed; {JudgeSample.objects.filter(run=run).count()} samples, "
          f"{suggestions.count()} suggestions "
          f"({suggestions.filter(parse_state='parsed').count()} parsed)")  # fmt: skip
    print(f"  max requests in flight at the server: {server.max_in_flight} "
          f"(limit {args.concurrency})")  # fmt: skip
    if run.started_at and run.finished_at:
        print(f"  task started {(run.started_at - run.created_at).total_seconds():.2f} s after "
              f"judge_run_create; run took {(run.finished_at - run.started_at).total_seconds():.2f} s")  # fmt: skip
    print(f"  worker CPU {worker_cpu:.2f} s ({1000 * worker_cpu / args.traces:.2f} ms/request)")
    print(f"  wall {wall:.2f} s, ideal {ideal:.2f} s, ratio {wall / ideal:.2f} (target <= 1.25)")
    if baseline is not None:
        print(f"  a plain run of the same {args.traces} requests on the same engine: wall "
              f"{baseline:.2f} s, ratio {baseline / ideal:.2f}; judge / plain run "
              f"{wall / baseline:.2f}")  # fmt: skip
    ok = run.items_done == args.traces and server.max_in_flight <= args.concurrency
    EndpointSlot.objects.filter(endpoint=server.base_url.lower()).delete()
    project.delete()
    tmp.cleanup()
    if not ok:
        raise SystemExit(1)


if __name__ == "__main__":
    os.environ.setdefault("REFLECTLAB_RUN_TASKS", "1")
    main()
