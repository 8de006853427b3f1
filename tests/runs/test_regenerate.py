from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from reflectlab.providers.models import ModelConfig
from reflectlab.runs import services
from reflectlab.runs.tasks import trace_continue_task
from reflectlab.traces.models import Trace
from tests.factories import TraceFactory

TAGGED = (
    "<think>\nWe need 2 + 3.\n\n2 + 3 = 6.\n\nSo the answer is 6.\n</think>\n\n"
    "The answer is \\boxed{6}."
)


def test_regenerate_creates_a_pending_branch_and_enqueues_after_commit(
    project, user, make_config, django_capture_on_commit_callbacks, monkeypatch
):
    config = make_config()
    parent = TraceFactory(project=project, raw_response=TAGGED)
    sent = []
    monkeypatch.setattr(trace_continue_task, "delay", lambda *args: sent.append(args))
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        branch = services.trace_regenerate(
            trace=parent, step_index=1, hint="  Recheck 2 + 3.  ", user=user
        )
    assert len(callbacks) == 1 and sent == [(branch.pk, config.pk)]
    assert branch.state == Trace.State.PENDING and branch.origin == Trace.Origin.REGENERATION
    assert (branch.parent, branch.branch_step, branch.hint) == (parent, 1, "Recheck 2 + 3.")
    assert branch.continuation_mode == ModelConfig.Continuation.RAW_COMPLETION


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"step_index": 9, "hint": "x"}, "Choose a step between 0 and 2"),
        ({"step_index": 0, "hint": "  "}, "Write a hint"),
    ],
)
def test_regenerate_validates_step_and_hint(project, user, make_config, kwargs, message):
    make_config()
    parent = TraceFactory(project=project, raw_response=TAGGED)
    with pytest.raises(ValidationError, match=message):
        services.trace_regenerate(trace=parent, user=user, **kwargs)


def test_regenerate_without_any_config_says_so(project, user):
    parent = TraceFactory(project=project, raw_response=TAGGED)
    with pytest.raises(ValidationError, match="no model config"):
        services.trace_regenerate(trace=parent, step_index=0, hint="h", user=user)


def test_regeneration_config_prefers_argument_then_run_then_latest(project, make_config):
    older, newer = make_config(name="older"), make_config(name="newer")
    parent = TraceFactory(project=project)
    assert services.regeneration_config(trace=parent) == newer
    assert services.regeneration_config(trace=parent, model_config=older) == older


@pytest.mark.django_db(transaction=True)
def test_raw_completion_continues_from_the_prefix_before_the_marked_step(
    project, user, make_config, fake_server
):
    config = make_config()
    parent = TraceFactory(project=project, raw_response=TAGGED)
    hint = "Careful: 2 + 3 is 5, not 6."
    branch = services.trace_regenerate(trace=parent, step_index=1, hint=hint, user=user)
    branch = services.trace_continue(branch_id=branch.pk, config_id=config.pk)

    prefix = "<think>\nWe need 2 + 3.\n\n"
    sent = fake_server.requests[-1]["prompt"]
    assert sent.endswith("<|im_start|>assistant\n" + prefix + hint + "\n\n")
    assert "<|im_start|>user\nWhat is 2 + 3?<|im_end|>" in sent
    assert branch.state == Trace.State.READY, branch.error
    assert branch.raw_response.startswith(prefix + hint + "\n\nSo the sum is 5")
    assert branch.continuation_prefix_chars == len(prefix)
    assert branch.raw_response[branch.continuation_prefix_chars :].startswith(hint)
    assert branch.final_answer == "5" and branch.final_correct is True
    assert branch.analysis["steps"] and branch.parent_id == parent.pk
    # Running the task again changes nothing.
    again = services.trace_continue(branch_id=branch.pk, config_id=config.pk)
    assert again.raw_response == branch.raw_response and len(fake_server.requests) == 1


@pytest.mark.django_db(transaction=True)
def test_prefix_from_a_reasoning_field_opens_the_thinking_tag(
    project, user, make_config, fake_server
):
    config = make_config()
    parent = TraceFactory(
        project=project, raw_response="The answer is \\boxed{6}.", reasoning="Add.\n\n2 + 3 = 6."
    )
    branch = services.trace_regenerate(trace=parent, step_index=1, hint="Add again.", user=user)
    branch = services.trace_continue(branch_id=branch.pk, config_id=config.pk)
    assert fake_server.requests[-1]["prompt"].endswith("assistant\n<think>\nAdd.\n\nAdd again.\n\n")
    assert branch.raw_response.startswith("Add.\n\nAdd again.\n\nSo the sum")
    assert branch.final_correct is True


@pytest.mark.django_db(transaction=True)
def test_chat_prefill_and_user_turn_modes(project, user, make_config, fake_server):
    parent = TraceFactory(project=project, raw_response=TAGGED)
    prefill = make_config(continuation_mode="chat_prefill")
    branch = services.trace_regenerate(
        trace=parent, step_index=2, hint="Recheck.", user=user, model_config=prefill
    )
    branch = services.trace_continue(branch_id=branch.pk, config_id=prefill.pk)
    sent = fake_server.requests[-1]
    assert sent["continue_final_message"] is True and sent["add_generation_prompt"] is False
    assert sent["messages"][-1]["role"] == "assistant"
    assert sent["messages"][-1]["content"].endswith("2 + 3 = 6.\n\nRecheck.\n\n")
    assert branch.continuation_mode == "chat_prefill" and branch.state == Trace.State.READY

    turn = make_config(continuation_mode="user_turn")
    branch = services.trace_regenerate(
        trace=parent, step_index=2, hint="Recheck.", user=user, model_config=turn
    )
    branch = services.trace_continue(branch_id=branch.pk, config_id=turn.pk)
    sent = fake_server.requests[-1]
    assert [m["role"] for m in sent["messages"]] == ["user", "assistant", "user"]
    assert sent["messages"][-1]["content"] == "Recheck."
    assert branch.continuation_prefix_chars == 0 and branch.state == Trace.State.READY


@pytest.mark.django_db(transaction=True)
def test_a_failed_continuation_is_recorded(project, user, make_config, fake_server):
    config = make_config()
    parent = TraceFactory(project=project, raw_response=TAGGED)
    parent.prompt.text = "FAULT:400"
    parent.prompt.save()
    branch = services.trace_regenerate(trace=parent, step_index=0, hint="h", user=user)
    branch = services.trace_continue(branch_id=branch.pk, config_id=config.pk)
    assert branch.state == Trace.State.FAILED
    assert branch.error == "HTTP 400 Bad Request: max_tokens is too large for this model"


def test_regenerate_api_returns_the_pending_branch(api, project, make_config, monkeypatch):
    make_config()
    monkeypatch.setattr(trace_continue_task, "delay", lambda *args: None)
    parent = TraceFactory(project=project, raw_response=TAGGED)
    url = f"/api/v1/traces/{parent.pk}/regenerate"
    response = api.post(url, {"step": 1, "hint": "Recheck."}, format="json")
    assert response.status_code == 202, response.content
    assert response.json()["state"] == "pending" and response.json()["parent"] == parent.pk
    assert api.post(url, {"step": 99, "hint": "x"}, format="json").status_code == 400
