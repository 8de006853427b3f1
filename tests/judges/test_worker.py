"""Judge runs on a real Celery worker process (``models`` queue): against the
scripted fake judge server, and against a REAL OpenAI-compatible server when
REFLECTLAB_TEST_OPENAI_BASE_URL is set (CI: the tiny local model)."""

from __future__ import annotations

import os
import time

import httpx
import pytest

from reflectlab.judges import services
from reflectlab.judges.models import JudgeRun, JudgeSample, Suggestion
from reflectlab.providers.models import ModelConfig
from reflectlab.runs.models import EndpointSlot

BASE_URL = os.environ.get("REFLECTLAB_TEST_OPENAI_BASE_URL", "")

pytestmark = [pytest.mark.worker, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def wait_terminal(run: JudgeRun, timeout: float = 120) -> JudgeRun:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run.refresh_from_db()
        if run.is_terminal:
            return run
        time.sleep(0.2)
    raise AssertionError(f"judge run {run.pk} is still {run.state}")


def test_a_judge_run_executes_on_a_real_worker(
    celery_worker_process, user, make_judge, make_trace, script
):
    wrong = make_trace("wrong")
    script.answers["wrong"] = ["\\boxed{1}", "The earliest error is in step 1."]
    make_trace("right")
    run = services.judge_run_create(judge=make_judge(samples_per_trace=2), user=user)
    run = wait_terminal(run, 60)
    assert run.state == JudgeRun.State.SUCCEEDED, run.error_summary
    assert (run.items_done, run.items_failed) == (4, 0)
    suggestion = Suggestion.objects.get(run=run, trace=wrong)
    assert (suggestion.first_error_step, suggestion.confidence) == (1, 1.0)


@pytest.mark.skipif(
    not BASE_URL,
    reason="set REFLECTLAB_TEST_OPENAI_BASE_URL to an OpenAI-compatible server "
    "(scripts/model_server.sh start prints one)",
)
def test_a_judge_run_against_a_real_openai_compatible_server(
    celery_worker_process, project, user, make_trace
):
    name = (
        os.environ.get("REFLECTLAB_TEST_OPENAI_MODEL")
        or httpx.get(f"{BASE_URL.rstrip('/')}/models", timeout=10).json()["data"][0]["id"]
    )
    config = ModelConfig.objects.create(
        project=project, name="real", base_url=BASE_URL, model=name, max_tokens=48,
        temperature=0.7, max_concurrency=2, timeout_seconds=120, max_retries=2,
    )  # fmt: skip
    traces = [make_trace(f"real{i}") for i in range(2)]
    judge = services.judge_create(
        project=project, name="tiny critic", kind="critic", model_config=config, user=user,
        samples_per_trace=2,
    )  # fmt: skip
    run = wait_terminal(services.judge_run_create(judge=judge, user=user), 300)
    try:
        assert run.state == JudgeRun.State.SUCCEEDED, run.error_summary
        assert run.items_done == 4 and run.tokens_completion > 0
        # A random tiny model answers noise: every answer is kept as sent and either
        # read or recorded as unparseable with a reason — never guessed.
        for sample in JudgeSample.objects.filter(run=run):
            assert sample.completion_tokens
            if sample.parse_state == "unparseable":
                assert sample.parse_error
            else:
                assert sample.parsed["first_error"] in range(-1, 3)
        assert Suggestion.objects.filter(run=run).count() == len(traces)
        assert (
            run.items_unparsed
            == JudgeSample.objects.filter(run=run, parse_state="unparseable").count()
        )
    finally:
        EndpointSlot.objects.all().delete()
