"""Runs through a REAL Celery worker process, including one that is SIGKILLed mid-run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from reflectlab.runs import services
from reflectlab.runs.models import Run, RunItem
from reflectlab.traces.models import Trace

pytestmark = [pytest.mark.worker, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_run_executes_on_a_real_worker(
    celery_worker_process, project, user, make_config, make_prompts, fake_server
):
    make_prompts([f"p{i}" for i in range(10)])
    run = services.run_create(
        project=project, model_config=make_config(), user=user, samples_per_prompt=2
    )
    wait_for(lambda: Run.objects.get(pk=run.pk).is_terminal, 60, "the run to finish")
    run.refresh_from_db()
    assert (run.state, run.items_done, run.items_failed) == (Run.State.SUCCEEDED, 20, 0)
    assert Trace.objects.filter(run=run).count() == 20


def _worker(env, log):
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "reflectlab", "worker", "-Q", "default,models",
         "-P", "solo", "-l", "info", "--without-mingle", "--without-gossip", "--without-heartbeat"],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip


def test_a_worker_killed_mid_run_loses_and_duplicates_nothing(
    celery_worker_process, project, user, make_config, make_prompts, fake_server, tmp_path
):
    fake_server.latency = 0.15
    prompts, samples = 15, 2
    make_prompts([f"p{i}" for i in range(prompts)])
    config = make_config(max_concurrency=3)
    run = services.run_create(
        project=project, model_config=config, user=user, samples_per_prompt=samples
    )
    wait_for(lambda: Run.objects.get(pk=run.pk).items_done >= 5, 60, "the first traces")

    os.kill(celery_worker_process.pid, signal.SIGKILL)
    celery_worker_process.wait(10)  # reaped, so the dead process is seen as dead
    stranded = RunItem.objects.filter(run=run, state=RunItem.State.RUNNING).count()
    assert Run.objects.get(pk=run.pk).items_done < prompts * samples

    env = {**os.environ, "DATABASE_URL": _database_url(), "DEBUG": "0"}
    with (tmp_path / "worker2.log").open("w") as log:
        second = _worker(env, log)
        try:
            wait_for(lambda: Run.objects.get(pk=run.pk).is_terminal, 90, "the resumed run")
        finally:
            second.terminate()
            second.wait(20)

    run.refresh_from_db()
    assert (run.state, run.items_done, run.items_failed) == (
        Run.State.SUCCEEDED, prompts * samples, 0,
    )  # fmt: skip
    traces = Trace.objects.filter(run=run)
    assert traces.count() == prompts * samples
    keys = list(traces.values_list("prompt_id", "sample_index"))
    assert len(set(keys)) == len(keys)
    assert fake_server.max_in_flight <= 3
    print(
        f"stranded claims after SIGKILL: {stranded}; requests served: {len(fake_server.requests)}"
    )


def _database_url() -> str:
    from django.db import connection

    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    return f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
