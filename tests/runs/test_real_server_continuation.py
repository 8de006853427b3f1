"""Continuation against a REAL OpenAI-compatible server (CI: ``transformers serve``
on the tiny model, scripts/model_server.sh; or your own vLLM/Ollama via
REFLECTLAB_TEST_OPENAI_BASE_URL): what the server accepts and refuses."""

from __future__ import annotations

import itertools
import os

import httpx
import pytest

from reflectlab.providers.base import GenerationRequest, Sampling
from reflectlab.providers.models import ModelConfig
from reflectlab.providers.openai_http import OpenAIHttpProvider
from reflectlab.runs import services
from reflectlab.traces.models import Trace
from tests.factories import TraceFactory

BASE_URL = os.environ.get("REFLECTLAB_TEST_OPENAI_BASE_URL", "")
TAGGED = "<think>\nWe need 2 + 3.\n\n2 + 3 = 6.\n\nSo 6.\n</think>\n\nThe answer is \\boxed{6}."
HINT = "Careful: 2 + 3 is 5."

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not BASE_URL,
        reason="set REFLECTLAB_TEST_OPENAI_BASE_URL to an OpenAI-compatible server "
        "(scripts/model_server.sh start prints one)",
    ),
]


@pytest.fixture
def served_model() -> str:
    name = os.environ.get("REFLECTLAB_TEST_OPENAI_MODEL")
    if name:
        return name
    return httpx.get(f"{BASE_URL.rstrip('/')}/models", timeout=10).json()["data"][0]["id"]


@pytest.fixture
def real_config(project, served_model):
    def make(**kwargs) -> ModelConfig:
        values = {"name": "real", "base_url": BASE_URL, "model": served_model, "max_tokens": 24,
                  "temperature": 0.0, "timeout_seconds": 120, "max_retries": 1, **kwargs}  # fmt: skip
        return ModelConfig.objects.create(project=project, **values)

    return make


def continue_branch(project, user, config) -> Trace:
    parent = TraceFactory(project=project, raw_response=TAGGED)
    branch = services.trace_regenerate(
        trace=parent, step_index=1, hint=HINT, user=user, model_config=config
    )
    return services.trace_continue(branch_id=branch.pk, config_id=config.pk)


def test_mode_a_refused_by_the_server_fails_with_the_mode_that_works(project, user, real_config):
    branch = continue_branch(project, user, real_config(continuation_mode="chat_prefill"))
    if branch.state == Trace.State.READY:
        pytest.skip("this server honours continue_final_message (vLLM/SGLang)")
    assert branch.state == Trace.State.FAILED
    assert (
        "refused continuation mode (a)" in branch.error
        and "(b) raw /v1/completions" in branch.error
    )


@pytest.mark.parametrize("stream", [False, True])
def test_mode_b_with_the_family_template_continues_and_stores_the_prompt(
    project, user, real_config, stream
):
    config = real_config(chat_template="chatml", stream=stream)
    branch = continue_branch(project, user, config)
    assert branch.state == Trace.State.READY, branch.error
    assert branch.continuation_prompt.endswith(
        "<|im_start|>assistant\n<think>\nWe need 2 + 3.\n\n" + HINT + "\n\n"
    )
    assert branch.raw_response.startswith("<think>\nWe need 2 + 3.\n\n" + HINT + "\n\n")
    assert len(branch.raw_response) > len("<think>\nWe need 2 + 3.\n\n" + HINT + "\n\n")
    assert branch.analysis is not None and branch.warnings == []


def test_a_length_stop_inside_the_thinking_is_truncated(project, user, real_config):
    branch = continue_branch(project, user, real_config(max_tokens=2))
    assert branch.state == Trace.State.READY, branch.error
    assert branch.finish_reason == "length"
    if "</think>" not in branch.raw_response:
        assert branch.truncated is True


def test_streamed_chat_splits_the_reasoning_and_reports_text_as_it_arrives(served_model):
    provider = OpenAIHttpProvider(base_url=BASE_URL, timeout=120)
    texts: list[str] = []
    try:
        generation = provider.generate(
            GenerationRequest(
                sampling=Sampling(model=served_model, max_tokens=32, temperature=0.0, stream=True),
                messages=[{"role": "user", "content": "What is 2 + 2?"}],
                on_text=texts.append,
            )
        )
    finally:
        provider.close()
    assert generation.content or generation.reasoning
    assert generation.finish_reason and len(texts) > 1
    assert all(later.startswith(earlier) for earlier, later in itertools.pairwise(texts))
    assert texts[-1].endswith(generation.content or generation.reasoning)
