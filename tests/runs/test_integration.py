"""Against a REAL OpenAI-compatible server (CI: ``transformers serve`` on the tiny
local model, see scripts/model_server.sh; or your own vLLM/Ollama): a run through
a real Celery worker, then a regeneration through continuation mode (b)."""

from __future__ import annotations

import os
import time

import httpx
import pytest

from reflectlab.providers.models import ModelConfig
from reflectlab.runs import services
from reflectlab.runs.models import Run
from reflectlab.traces.models import Trace

BASE_URL = os.environ.get("REFLECTLAB_TEST_OPENAI_BASE_URL", "")

pytestmark = [
    pytest.mark.worker,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not BASE_URL,
        reason="set REFLECTLAB_TEST_OPENAI_BASE_URL to an OpenAI-compatible server "
        "(scripts/model_server.sh start prints one)",
    ),
]


def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def served_model() -> str:
    name = os.environ.get("REFLECTLAB_TEST_OPENAI_MODEL")
    if name:
        return name
    models = httpx.get(f"{BASE_URL.rstrip('/')}/models", timeout=10).json()["data"]
    return models[0]["id"]


def test_real_server_run_and_regeneration(
    celery_worker_process, project, user, served_model, make_prompts
):
    config = ModelConfig.objects.create(
        project=project,
        name="real",
        base_url=BASE_URL,
        model=served_model,
        max_tokens=48,
        temperature=0.7,
        max_concurrency=2,
        timeout_seconds=120,
        max_retries=2,
        continuation_mode=ModelConfig.Continuation.RAW_COMPLETION,
    )
    make_prompts(["What is 2 + 3?", "What is 7 * 6?", "Is 17 prime?"])
    run = services.run_create(project=project, model_config=config, user=user, samples_per_prompt=2)
    wait_for(lambda: Run.objects.get(pk=run.pk).is_terminal, 300, "the run")
    run.refresh_from_db()
    assert run.state == Run.State.SUCCEEDED, run.error_summary
    assert (run.items_done, run.items_failed) == (6, 0)
    assert run.tokens_completion > 0
    traces = list(Trace.objects.filter(run=run).order_by("prompt_id", "sample_index"))
    assert [(t.prompt_id, t.sample_index) for t in traces] == [
        (p, s) for p in sorted({t.prompt_id for t in traces}) for s in (0, 1)
    ]
    for trace in traces:
        assert trace.state == Trace.State.READY and trace.analysis is not None
        assert trace.raw_response or trace.reasoning
        assert trace.finish_reason and trace.latency_ms is not None
        if trace.reasoning:  # the server split the thinking off: not left in the content
            assert "<think>" not in trace.raw_response
            assert trace.analysis["extraction"]["source"] == "reasoning_field"

    parent = next(t for t in traces if t.n_steps)
    step = parent.n_steps - 1
    branch = services.trace_regenerate(
        trace=parent, step_index=step, hint="Check the arithmetic again.", user=user
    )
    wait_for(
        lambda: Trace.objects.get(pk=branch.pk).state != Trace.State.PENDING, 180, "the branch"
    )
    branch.refresh_from_db()
    assert branch.state == Trace.State.READY, branch.error
    assert branch.parent_id == parent.pk and branch.branch_step == step
    assert branch.continuation_mode == "raw_completion"
    assert branch.hint == "Check the arithmetic again."
    prefix, _ = services.continuation_prefix(parent=parent, step_index=step)
    assert branch.raw_response.startswith(prefix + "Check the arithmetic again.\n\n")
    assert branch.continuation_prefix_chars == len(prefix)
    assert len(branch.raw_response) > len(prefix) + len(branch.hint)
    assert branch.analysis is not None and branch.analyzer_version
    assert list(parent.branches.all()) == [branch]
