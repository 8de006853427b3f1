"""Faults that used to stall a run: NUL in a response, a value the database
refuses, a database connection lost mid-run (the last with a real worker).

Run on PostgreSQL (CI) to reproduce the originals: ``text``/``jsonb`` refuse NUL
there, and ``pg_terminate_backend`` kills the worker's connections.
"""

from __future__ import annotations

import time

import pytest
from django.db import connection

from reflectlab.core.fields import ESC, escape, unescape
from reflectlab.exports.selectors import annotation_rows
from reflectlab.providers.base import Generation
from reflectlab.providers.testing import NUL_ANSWER
from reflectlab.runs import services
from reflectlab.runs.execution import Executor
from reflectlab.runs.models import Run, RunItem
from reflectlab.traces.models import Trace
from tests.exports.factories import AnnotationFactory

pytestmark = pytest.mark.django_db(transaction=True)


def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.parametrize(
    "text", ["", "plain", "a\x00b", "\x00", ESC, ESC + "0", "x" + ESC + ESC + "\x00" + ESC]
)
def test_the_nul_escape_is_reversible(text):
    assert unescape(escape(text)) == text
    assert "\x00" not in escape(text)


def test_a_nul_in_a_response_is_kept_and_does_not_block_the_batch(
    project, user, make_config, make_prompts, fake_server, api
):
    make_prompts(["FAULT:nul", "What is 2 + 3?", "And 3 + 2?"])
    run = services.run_create(project=project, model_config=make_config(), user=user, enqueue=False)

    run = services.run_execute(run_id=run.pk)

    assert (run.state, run.items_done, run.items_failed) == (Run.State.SUCCEEDED, 3, 0)
    trace = Trace.objects.get(run=run, prompt__text="FAULT:nul")
    assert trace.raw_response == NUL_ANSWER and trace.reasoning == "think\x00ing"
    assert Trace.objects.filter(pk=trace.pk).values_list("raw_response", flat=True)[0] == (
        NUL_ANSWER
    )
    assert trace.analysis["steps"]  # analysed like any other
    body = api.get(f"/api/v1/traces/{trace.pk}/").json()
    assert body["raw_response"] == NUL_ANSWER  # the API gives back the original
    AnnotationFactory(trace=trace, project=project, annotator=user)
    rows = list(
        annotation_rows(project=project, filters={}, fields=["trace__raw_response", "hint"])
    )
    assert rows[0]["trace__raw_response"] == NUL_ANSWER  # and so do exports
    with connection.cursor() as cursor:  # stored escaped: PostgreSQL cannot hold NUL
        cursor.execute("SELECT raw_response FROM traces_trace WHERE id = %s", [trace.pk])
        assert cursor.fetchone()[0] == escape(NUL_ANSWER)


class NegativeTokens:
    """A provider whose answer for one prompt carries a value the database refuses."""

    def generate(self, request):
        text = request.messages[-1]["content"]
        return Generation(
            content="\\boxed{5}", finish_reason="stop", prompt_tokens=-5 if "bad" in text else 3
        )

    def close(self):
        pass


def test_an_item_that_cannot_be_stored_fails_alone_with_the_reason(
    project, user, make_config, make_prompts
):
    make_prompts(["good 1", "bad", "good 2", "good 3"])
    config = make_config()
    run = services.run_create(project=project, model_config=config, user=user, enqueue=False)
    Run.objects.filter(pk=run.pk).update(state=Run.State.RUNNING)
    run.refresh_from_db()
    services.items_ensure(run)

    Executor(run, NegativeTokens(), threads=4).execute()
    services.run_finalize(run_id=run.pk)

    run.refresh_from_db()
    assert (run.state, run.items_done, run.items_failed) == (Run.State.SUCCEEDED, 3, 1)
    failed = RunItem.objects.get(run=run, state=RunItem.State.FAILED)
    assert failed.prompt.text == "bad"
    assert failed.error.startswith("The response could not be stored: IntegrityError")
    assert not RunItem.objects.filter(run=run, state=RunItem.State.RUNNING).exists()


@pytest.mark.worker
@pytest.mark.slow
def test_a_run_survives_its_database_connections_being_killed(
    celery_worker_process, project, user, make_config, make_prompts, fake_server
):
    if connection.vendor != "postgresql":
        pytest.skip("pg_terminate_backend needs PostgreSQL (set DATABASE_URL)")
    fake_server.latency = 0.1
    make_prompts([f"p{i}" for i in range(30)])
    run = services.run_create(
        project=project, model_config=make_config(max_concurrency=2), user=user
    )
    for done in (4, 12):
        wait_for(lambda n=done: Run.objects.get(pk=run.pk).items_done >= n, 90, f"{done} traces")
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            assert cursor.fetchone()[0] >= 1  # the worker's connections are gone
    wait_for(lambda: Run.objects.get(pk=run.pk).is_terminal, 180, "the run to finish")

    run.refresh_from_db()
    assert (run.state, run.items_done, run.items_failed) == (Run.State.SUCCEEDED, 30, 0)
    assert Trace.objects.filter(run=run).count() == 30
    assert celery_worker_process.poll() is None  # the same worker, not a restart, resumed it
