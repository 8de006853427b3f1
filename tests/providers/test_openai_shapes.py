"""What real servers send: odd field shapes, o-series, SSE streams, llama.cpp logprobs."""

from __future__ import annotations

import json
import math

import httpx
import pytest

from reflectlab.providers.base import GenerationRequest, PermanentProviderError, Sampling
from reflectlab.providers.openai_http import OpenAIHttpProvider

GOOD = {"message": {"role": "assistant", "content": "<think>\nok\n</think>\n\\boxed{5}"}}


def serve(answer, *, content_type="application/json"):
    """A provider whose server answers ``answer`` (a dict → JSON, a str → as is)."""
    seen: list[dict] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content))
        body = answer if isinstance(answer, str) else json.dumps(answer)
        return httpx.Response(200, content=body.encode(), headers={"content-type": content_type})

    provider = OpenAIHttpProvider(
        base_url="http://server/v1", transport=httpx.MockTransport(handler)
    )
    return provider, seen


def chat(provider, sampling=None, **kwargs):
    sampling = sampling or Sampling(model="m", max_tokens=16)
    request = GenerationRequest(
        sampling=sampling, messages=[{"role": "user", "content": "q"}], **kwargs
    )
    return provider.generate(request)


def sse(*events) -> str:
    return "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"


# -- malformed provider fields (issue 12): keep the completion, say what was wrong ----


@pytest.mark.parametrize(
    ("answer", "warning"),
    [
        ({"choices": [{**GOOD, "finish_reason": "stop"}], "usage": [1, 2]}, "'usage' was list"),
        (
            {"choices": [{"message": {"content": {"type": "text", "text": "<think>\nok\n</think>\n\\boxed{5}"}}}]},
            "'message.content' was an object",
        ),
        ({"choices": [{**GOOD, "finish_reason": 1}]}, "'finish_reason' was 1"),
        ({"choices": {"0": {**GOOD, "finish_reason": "stop"}}}, "'choices' was an object"),
        ({"choices": [{**GOOD}], "usage": {"completion_tokens": "abc"}}, "not a token count"),
    ],
)  # fmt: skip
def test_a_malformed_field_keeps_the_good_completion_with_a_warning(answer, warning):
    provider, _ = serve(answer)
    generation = chat(provider)
    assert generation.content == "<think>\nok\n</think>\n\\boxed{5}"
    assert any(warning in w for w in generation.warnings), generation.warnings


def test_a_numeric_finish_reason_becomes_text():
    provider, _ = serve({"choices": [{**GOOD, "finish_reason": 1}]})
    assert chat(provider).finish_reason == "1"


def test_choices_without_any_choice_object_fail_with_a_reason():
    provider, _ = serve({"choices": {"a": 1}})
    with pytest.raises(PermanentProviderError, match="no choice object"):
        chat(provider)


# -- vLLM's current `reasoning` and the older `reasoning_content` -------------------


@pytest.mark.parametrize("field", ["reasoning", "reasoning_content"])
def test_both_vllm_reasoning_fields_are_read(field):
    provider, _ = serve({"choices": [{"message": {"content": "\\boxed{5}", field: "2+3=5"}}]})
    generation = chat(provider)
    assert (generation.reasoning, generation.content) == ("2+3=5", "\\boxed{5}")


# -- OpenAI o-series ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "flag"), [("o3-mini", False), ("o1", False), ("openai/o4-mini", False), ("x", True)]
)
def test_reasoning_models_get_max_completion_tokens_and_no_sampling(model, flag):
    answer = {
        "choices": [{"message": {"content": "5"}, "finish_reason": "stop"}],
        "usage": {
            "prompt_tokens": 9,
            "completion_tokens": 300,
            "completion_tokens_details": {"reasoning_tokens": 256},
        },
    }
    provider, seen = serve(answer)
    sampling = Sampling(model=model, max_tokens=512, logprobs=True, reasoning_api=flag)
    generation = chat(provider, sampling)
    body = seen[0]
    assert body["max_completion_tokens"] == 512
    assert not {"temperature", "top_p", "max_tokens", "logprobs"} & body.keys()
    assert generation.reasoning_tokens == 256 and generation.completion_tokens == 300


def test_other_models_keep_their_sampling_parameters():
    provider, seen = serve({"choices": [GOOD]})
    chat(provider, Sampling(model="omni-7b", max_tokens=5))
    assert seen[0]["max_tokens"] == 5 and "temperature" in seen[0]


# -- server-sent events -----------------------------------------------------------------

STREAM = sse(
    {"model": "m", "choices": [{"delta": {"role": "assistant", "reasoning": "2+3"}}]},
    {"choices": [{"delta": {"reasoning_content": "=5"}}]},
    {"choices": [{"delta": {"content": "\\boxed{5}"}, "finish_reason": "stop"}]},
    {"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 4}},
)


def test_streaming_is_asked_for_and_merged_with_text_as_it_arrives():
    provider, seen = serve(STREAM, content_type="text/event-stream")
    texts: list[str] = []
    generation = chat(provider, Sampling(model="m", stream=True), on_text=texts.append)
    assert seen[0]["stream"] is True and seen[0]["stream_options"] == {"include_usage": True}
    assert (generation.reasoning, generation.content) == ("2+3=5", "\\boxed{5}")
    assert (generation.finish_reason, generation.completion_tokens) == ("stop", 4)
    assert texts == ["2+3", "2+3=5", "2+3=5\n</think>\n\n\\boxed{5}"]
    assert generation.warnings == []


def test_a_streaming_only_server_is_detected_without_the_flag():
    """Before: 'Malformed JSON from the server: data: {…'."""
    provider, seen = serve(STREAM, content_type="application/json")  # and a wrong type
    generation = chat(provider)
    assert "stream" not in seen[0]
    assert generation.content == "\\boxed{5}" and generation.reasoning == "2+3=5"
    assert any("streamed" in w for w in generation.warnings)


def test_streamed_completions_keep_their_logprobs():
    events = sse(
        {"choices": [{"text": "So", "logprobs": {"tokens": ["So"], "token_logprobs": [-0.5]}}]},
        {"choices": [{"text": " 5", "logprobs": {"tokens": [" 5"], "token_logprobs": [-0.1]}}]},
        {"choices": [{"text": "", "finish_reason": "length"}]},
    )
    provider, _ = serve(events, content_type="text/event-stream")
    generation = provider.generate(
        GenerationRequest(sampling=Sampling(model="m", stream=True), prompt="p")
    )
    assert generation.content == "So 5" and generation.finish_reason == "length"
    assert [t["logprob"] for t in generation.logprobs] == [-0.5, -0.1]


def test_an_error_event_in_a_stream_fails_with_its_message():
    body = "data: " + json.dumps({"error": {"message": "model overloaded"}}) + "\n\n"
    provider, _ = serve(body, content_type="text/event-stream")
    with pytest.raises(PermanentProviderError, match="model overloaded"):
        chat(provider, Sampling(model="m", stream=True))


def test_a_server_that_ignores_stream_and_answers_once_still_works():
    provider, _ = serve({"choices": [GOOD]})
    assert chat(provider, Sampling(model="m", stream=True)).content.endswith("\\boxed{5}")


# -- llama.cpp completion logprobs ---------------------------------------------------


@pytest.mark.parametrize(
    "choice",
    [
        # llama.cpp /v1/completions today: the chat shape inside a completion choice
        {"logprobs": {"content": [{"id": 1, "token": "So", "logprob": -0.25, "bytes": [83, 111],
                                   "top_logprobs": [{"id": 1, "token": "So", "logprob": -0.25}]}]}},
        # native completion_probabilities
        {"completion_probabilities": [{"id": 1, "token": "So", "logprob": -0.25,
                                       "top_logprobs": [{"token": "So", "logprob": -0.25}]}]},
        # with post_sampling_probs: probabilities instead of logprobs
        {"completion_probabilities": [{"token": "So", "prob": math.exp(-0.25),
                                       "top_probs": [{"token": "So", "prob": math.exp(-0.25)}]}]},
        # before December 2024: content + probs[{tok_str, prob}]
        {"completion_probabilities": [{"content": "So",
                                       "probs": [{"tok_str": "So", "prob": math.exp(-0.25)}]}]},
    ],
)  # fmt: skip
def test_llama_cpp_logprob_shapes_are_parsed(choice):
    provider, _ = serve({"choices": [{"text": "So", "finish_reason": "stop", **choice}]})
    generation = provider.generate(
        GenerationRequest(sampling=Sampling(model="m", logprobs=True), prompt="p")
    )
    (entry,) = generation.logprobs
    assert entry["token"] == "So" and entry["logprob"] == pytest.approx(-0.25)
    assert entry["top_logprobs"][0]["token"] == "So"
    assert entry["top_logprobs"][0]["logprob"] == pytest.approx(-0.25)
