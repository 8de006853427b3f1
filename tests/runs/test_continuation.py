"""Regeneration faults and model families: every failure ends in a failed
branch with a reason; truncated stays truncated; the family's template is used
and what was sent is stored."""

from __future__ import annotations

import json

import httpx
import pytest
from celery.exceptions import SoftTimeLimitExceeded
from django.core.exceptions import ValidationError

from reflectlab.annotations.models import Annotation
from reflectlab.annotations.workspace import branch_item
from reflectlab.exports import services as export_services
from reflectlab.providers.openai_http import OpenAIHttpProvider
from reflectlab.runs import continuation, services
from reflectlab.runs.tasks import trace_continue_task
from reflectlab.traces.models import Trace
from tests.exports.helpers import export_rows
from tests.factories import TraceFactory

TAGGED = (
    "<think>\nWe need 2 + 3.\n\n2 + 3 = 6.\n\nSo the answer is 6.\n</think>\n\n"
    "The answer is \\boxed{6}."
)
REFUSAL = {"detail": "Unexpected fields in the request: {'add_generation_prompt', 'continue_final_message'}"}  # fmt: skip


@pytest.fixture
def fake_http(monkeypatch):
    """Point the continuation at an in-process server: ``fake_http(handler)``."""
    seen: list[dict] = []

    def install(handler):
        def transport_handler(request: httpx.Request) -> httpx.Response:
            seen.append(json.loads(request.content))
            return handler(request)

        monkeypatch.setattr(
            continuation,
            "provider_for",
            lambda config: OpenAIHttpProvider(
                base_url="http://model/v1", transport=httpx.MockTransport(transport_handler)
            ),
        )
        return seen

    return install


def answer(**message):
    finish = message.pop("finish_reason", "stop")
    body = {"choices": [{"message": {"role": "assistant", **message}, "finish_reason": finish}]}
    return lambda request: httpx.Response(200, json=body)


def regenerate(parent, user, config, step=1, hint="Careful: 2 + 3 is 5."):
    branch = services.trace_regenerate(
        trace=parent, step_index=step, hint=hint, user=user, model_config=config
    )
    return services.trace_continue(branch_id=branch.pk, config_id=config.pk)


# -- truncated continuations ---------------------------------------------------------


def test_a_length_stop_inside_the_thinking_is_a_truncated_branch_everywhere(
    project, user, make_config, fake_http
):
    """Before: reflectlab appended '</think>', stored a finished branch with an
    empty answer, and KTO exported it."""
    fake_http(answer(reasoning="So 2 + 3 is 5 and then", content="", finish_reason="length"))
    config = make_config(continuation_mode="chat_prefill")
    parent = TraceFactory(project=project, raw_response=TAGGED)
    branch = regenerate(parent, user, config)
    assert branch.state == Trace.State.READY, branch.error
    assert "</think>" not in branch.raw_response
    assert branch.truncated is True and branch.analysis["truncated"] is True
    assert branch_item(branch)["view"].truncated  # the branch panel says so
    Annotation.objects.create(
        project=project, trace=parent, annotator=user, state="accepted", verdict="incorrect",
        hint=branch.hint, hint_step=1, branch=branch, first_error_step=1,
    )  # fmt: skip
    export = export_services.export_create(
        project=project, user=user, kind="unpaired", format="jsonl", enqueue=False
    )
    export_services.export_execute(export_id=export.pk)
    export.refresh_from_db()
    rows = export_rows(export)
    assert [json.loads(r["meta_json"])["source"] for r in rows] == ["trace"]  # no branch row


def test_a_finished_thinking_with_a_reasoning_parser_is_closed(
    project, user, make_config, fake_http
):
    fake_http(answer(reasoning="So 2 + 3 = 5.", content="The answer is \\boxed{5}."))
    config = make_config(continuation_mode="chat_prefill")
    branch = regenerate(TraceFactory(project=project, raw_response=TAGGED), user, config)
    assert "So 2 + 3 = 5.\n</think>\n\nThe answer is" in branch.raw_response
    assert branch.truncated is False and branch.final_correct is True


# -- branches stuck pending (issue 12) ------------------------------------------------


def test_a_soft_time_limit_fails_the_branch_with_a_reason(project, user, make_config, fake_http):
    def slow(request):
        raise SoftTimeLimitExceeded()

    fake_http(slow)
    config = make_config()
    parent = TraceFactory(project=project, raw_response=TAGGED)
    branch = services.trace_regenerate(trace=parent, step_index=1, hint="h", user=user)
    trace_continue_task.run(branch.pk, config.pk)  # the task body, in this process
    branch.refresh_from_db()
    assert branch.state == Trace.State.FAILED
    assert "time limit" in branch.error


def test_a_soft_time_limit_outside_the_service_still_fails_the_branch(
    project, user, make_config, monkeypatch
):
    config = make_config()
    branch = services.trace_regenerate(
        trace=TraceFactory(project=project, raw_response=TAGGED), step_index=1, hint="h", user=user
    )

    def interrupted(**kwargs):
        raise SoftTimeLimitExceeded()

    monkeypatch.setattr(continuation, "trace_continue", interrupted)
    trace_continue_task.run(branch.pk, config.pk)
    branch.refresh_from_db()
    assert branch.state == Trace.State.FAILED and "time limit" in branch.error


def test_an_exception_in_the_analysis_fails_the_branch_and_keeps_the_text(
    project, user, make_config, fake_http, monkeypatch
):
    fake_http(answer(content="So 5.\n</think>\n\n\\boxed{5}"))

    def broken(**kwargs):
        raise KeyError("steps")

    monkeypatch.setattr(continuation, "trace_analyze", broken)
    config = make_config(continuation_mode="chat_prefill")
    branch = regenerate(TraceFactory(project=project, raw_response=TAGGED), user, config)
    assert branch.state == Trace.State.FAILED
    assert branch.error.startswith("Internal error while storing the model's answer: KeyError")
    assert branch.raw_response.endswith("\\boxed{5}")  # nothing the model said is lost


def test_a_deleted_config_fails_the_branch(project, user, make_config):
    config = make_config()
    branch = services.trace_regenerate(
        trace=TraceFactory(project=project, raw_response=TAGGED), step_index=1, hint="h", user=user
    )
    config_id = config.pk
    config.delete()
    branch = services.trace_continue(branch_id=branch.pk, config_id=config_id)
    assert branch.state == Trace.State.FAILED and "deleted" in branch.error


# -- templates, refusals, what was sent -------------------------------------------------


def test_a_refusal_of_continue_final_message_says_which_mode_works(
    project, user, make_config, fake_http
):
    fake_http(lambda request: httpx.Response(422, json=REFUSAL))
    config = make_config(continuation_mode="chat_prefill")
    branch = regenerate(TraceFactory(project=project, raw_response=TAGGED), user, config)
    assert branch.state == Trace.State.FAILED
    assert "refused continuation mode (a)" in branch.error
    assert "(b) raw /v1/completions" in branch.error and "HTTP 422" in branch.error
    sent = json.loads(branch.continuation_prompt)
    assert sent[-1] == {"role": "assistant", "content": "<think>\nWe need 2 + 3.\n\nCareful: 2 + 3 is 5.\n\n"}  # fmt: skip


def test_no_raw_completions_endpoint_suggests_prefill_or_a_user_turn(
    project, user, make_config, fake_http
):
    fake_http(lambda request: httpx.Response(404, json={"error": {"message": "Not Found"}}))
    branch = regenerate(TraceFactory(project=project, raw_response=TAGGED), user, make_config())
    assert branch.state == Trace.State.FAILED and "no raw /v1/completions" in branch.error


def test_qwen3_never_continues_in_mode_a(project, user, make_config, fake_http):
    seen = fake_http(answer(content="x"))
    config = make_config(continuation_mode="chat_prefill", chat_template="qwen3")
    branch = regenerate(TraceFactory(project=project, raw_response=TAGGED), user, config)
    assert branch.state == Trace.State.FAILED and seen == []  # refused before any request
    assert "closed thinking block" in branch.error and "mode (b)" in branch.error
    with pytest.raises(ValidationError, match="Qwen3"):
        config.full_clean()


@pytest.mark.django_db(transaction=True)
def test_raw_completion_uses_the_family_template_and_stores_the_exact_prompt(
    project, user, make_config, fake_server
):
    config = make_config(chat_template="deepseek_r1", system_prompt="Be brief.")
    branch = regenerate(TraceFactory(project=project, raw_response=TAGGED), user, config)
    sent = fake_server.requests[-1]["prompt"]
    # The template's BOS is left to the server's tokenizer (which adds it): never doubled.
    assert sent == (
        "Be brief.<｜User｜>What is 2 + 3?<｜Assistant｜>"  # noqa: RUF001
        "<think>\nWe need 2 + 3.\n\nCareful: 2 + 3 is 5.\n\n"
    )
    assert branch.continuation_prompt == sent and branch.state == Trace.State.READY


def test_a_streamed_regeneration_shows_its_text_while_pending(
    project, user, make_config, fake_http, monkeypatch
):
    monkeypatch.setattr(continuation, "STREAM_SAVE_SECONDS", 0)
    config = make_config(stream=True)
    parent = TraceFactory(project=project, raw_response=TAGGED)
    branch = services.trace_regenerate(trace=parent, step_index=1, hint="Recheck.", user=user)
    seen_pending: list[str] = []

    def events():
        for text in ["So 2 + 3", " = 5.\n</think>\n\n", "\\boxed{5}"]:
            yield f"data: {json.dumps({'choices': [{'text': text}]})}\n\n".encode()
            pending = Trace.objects.get(pk=branch.pk)
            seen_pending.append(branch_item(pending)["partial"])
        yield b'data: {"choices": [{"text": "", "finish_reason": "stop"}]}\n\ndata: [DONE]\n\n'

    fake_http(
        lambda request: httpx.Response(
            200, content=events(), headers={"content-type": "text/event-stream"}
        )
    )
    branch = services.trace_continue(branch_id=branch.pk, config_id=config.pk)
    assert seen_pending == ["Recheck.\n\nSo 2 + 3", "Recheck.\n\nSo 2 + 3 = 5.\n</think>\n\n",
                            "Recheck.\n\nSo 2 + 3 = 5.\n</think>\n\n\\boxed{5}"]  # fmt: skip
    assert branch.state == Trace.State.READY and branch.final_correct is True
    assert branch_item(branch)["partial"] == ""


def test_an_r1_distill_model_gets_its_own_layout_without_choosing_a_template(
    project, user, make_config, fake_http
):
    """Before: mode (b) always rendered ChatML."""
    seen = fake_http(
        lambda request: httpx.Response(
            200, json={"choices": [{"text": "5.\n</think>\n\n\\boxed{5}", "finish_reason": "stop"}]}
        )
    )
    config = make_config(model="deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B")
    branch = regenerate(TraceFactory(project=project, raw_response=TAGGED), user, config)
    assert seen[0]["prompt"].startswith("<｜User｜>What is 2 + 3?<｜Assistant｜><think>\n")  # noqa: RUF001
    assert "<|im_start|>" not in seen[0]["prompt"] and branch.state == Trace.State.READY
