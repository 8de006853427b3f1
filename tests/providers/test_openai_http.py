from __future__ import annotations

import pytest

from reflectlab.providers.base import (
    GenerationRequest,
    PermanentProviderError,
    Sampling,
    TransientProviderError,
)
from reflectlab.providers.openai_http import OpenAIHttpProvider, parse_retry_after, render_chatml
from reflectlab.providers.testing import FakeOpenAIServer

SAMPLING = Sampling(model="fake-model", max_tokens=64)


@pytest.fixture
def server():
    with FakeOpenAIServer(hang_seconds=2, retry_after=7) as server:
        yield server


@pytest.fixture
def provider(server):
    provider = OpenAIHttpProvider(base_url=server.base_url, timeout=0.5)
    yield provider
    provider.close()


def ask(provider, text: str):
    return provider.generate(
        GenerationRequest(sampling=SAMPLING, messages=[{"role": "user", "content": text}])
    )


def test_chat_content_is_kept_byte_for_byte_with_usage_and_finish_reason(provider, server):
    generation = ask(provider, "hi")
    assert generation.content.startswith("<think>\nWe need") and generation.reasoning == ""
    assert (generation.finish_reason, generation.prompt_tokens, generation.completion_tokens) == (
        "stop", 12, 34,
    )  # fmt: skip
    assert server.requests[0]["model"] == "fake-model" and "logprobs" not in server.requests[0]


def test_reasoning_content_is_returned_apart(provider, server):
    server.reasoning_field = True
    generation = ask(provider, "hi")
    assert generation.content == "The answer is \\boxed{5}."
    assert generation.reasoning.startswith("We need 2 + 3.")


def test_completions_logprobs_come_back_in_the_chat_shape(server, provider):
    sampling = Sampling(model="m", logprobs=True, top_logprobs=2)
    generation = provider.generate(GenerationRequest(sampling=sampling, prompt="x"))
    assert server.requests[0]["logprobs"] == 2
    assert generation.logprobs[0] == {
        "token": "So",
        "logprob": -0.1,
        "top_logprobs": [{"token": "So", "logprob": -0.1}, {"token": "Thus", "logprob": -2.5}],
    }


@pytest.mark.parametrize(
    ("fault", "error", "message"),
    [
        (
            "429",
            TransientProviderError,
            "HTTP 429 Too Many Requests: Rate limit reached, slow down",
        ),
        ("500", TransientProviderError, "HTTP 500 Internal Server Error: upstream model crashed"),
        ("hang", TransientProviderError, "Timed out (ReadTimeout)."),
        ("reset", TransientProviderError, "Connection error: RemoteProtocolError"),
        ("malformed", PermanentProviderError, "Malformed JSON from the server"),
        ("empty", PermanentProviderError, "The server answered without choices"),
        ("400", PermanentProviderError, "HTTP 400 Bad Request: max_tokens is too large"),
    ],
)
def test_faults_are_classified(provider, fault, error, message):
    with pytest.raises(error) as caught:
        ask(provider, f"FAULT:{fault}")
    assert type(caught.value) is error and str(caught.value).startswith(message)
    if fault == "429":
        assert caught.value.retry_after == 7


def test_retry_after_parses_seconds_and_dates():
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


def test_chatml_ends_inside_the_open_assistant_turn():
    prompt = render_chatml([{"role": "user", "content": "Q"}], "<think>\nA\n\nhint\n\n")
    assert prompt == "<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\n<think>\nA\n\nhint\n\n"


def test_the_key_is_sent_as_a_bearer_token_only(server):
    provider = OpenAIHttpProvider(base_url=server.base_url, api_key="sk-secret")
    assert provider.client.headers["authorization"] == "Bearer sk-secret"
    provider.close()


def test_hf_local_without_transformers_says_how_to_install(monkeypatch):
    import builtins

    from reflectlab.providers.hf_local import HFLocalProvider

    real_import = builtins.__import__

    def no_torch(name, *args, **kwargs):
        if name in {"torch", "transformers"}:
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_torch)
    with pytest.raises(PermanentProviderError, match="pip install torch transformers"):
        HFLocalProvider(model_path="/nowhere").generate(
            GenerationRequest(sampling=SAMPLING, prompt="x")
        )
