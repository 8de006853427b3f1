"""Judge runs executed in-process on the runs' engine, against a scripted fake judge
server over real HTTP. Threads open their own connections, hence ``transactional_db``."""

from __future__ import annotations

import pytest

from reflectlab.judges import services
from reflectlab.judges.models import JudgeItem, JudgeRun, JudgeSample, Suggestion
from reflectlab.providers.models import ModelConfig

pytestmark = pytest.mark.django_db(transaction=True)


def test_judge_run_stores_raw_samples_and_one_suggestion_per_trace(
    user, make_judge, make_trace, script, judge_server
):
    wrong, right, odd = make_trace("wrong"), make_trace("right"), make_trace("odd")
    script.answers["wrong"] = ["Step 1 says 2 + 3 = 6.\n\n\\boxed{1}"]
    script.answers["odd"] = ["I refuse to answer."]
    judge = make_judge("critic")
    run = services.judge_run_create(judge=judge, user=user, enqueue=False)

    run = services.judge_run_execute(run_id=run.pk)

    assert run.state == JudgeRun.State.SUCCEEDED
    assert (run.items_total, run.items_done, run.items_failed, run.items_unparsed) == (3, 3, 0, 1)
    by_trace = {s.trace_id: s for s in Suggestion.objects.filter(run=run)}
    assert by_trace[wrong.pk].first_error_step == 1 and by_trace[wrong.pk].confidence == 1.0
    assert by_trace[right.pk].first_error_step == -1
    assert by_trace[wrong.pk].prompt_version == 1 and by_trace[wrong.pk].judge_id == judge.pk
    unparsed = by_trace[odd.pk]
    assert unparsed.parse_state == "unparseable" and unparsed.first_error_step is None
    assert unparsed.raw["samples"][0]["output"] == "I refuse to answer."
    sample = JudgeSample.objects.get(run=run, trace=odd)
    assert sample.raw_output == "I refuse to answer." and "No step index" in sample.parse_error
    # The judge saw the tagged steps of the trace.
    sent = judge_server.requests[0]["messages"][-1]["content"]
    assert "<paragraph_1>\n2 + 3 = 6.\n</paragraph_1>" in sent


def test_several_samples_give_a_self_consistency_confidence(user, make_judge, make_trace, script):
    trace = make_trace("split")
    script.answers["split"] = ["\\boxed{1}", "\\boxed{1}", "\\boxed{2}", "no idea"]
    run = services.judge_run_create(judge=make_judge(samples_per_trace=4), user=user, enqueue=False)
    services.judge_run_execute(run_id=run.pk)
    suggestion = Suggestion.objects.get(run=run, trace=trace)
    assert (suggestion.first_error_step, suggestion.confidence) == (1, 0.5)
    assert (suggestion.samples, suggestion.samples_parsed) == (4, 3)


def test_transient_faults_are_retried_and_permanent_ones_recorded(
    user, make_judge, make_trace, fast_retries, judge_server
):
    make_trace("flaky FAULT:500x1")
    make_trace("bad FAULT:400")
    run = services.judge_run_create(judge=make_judge(), user=user, enqueue=False)
    run = services.judge_run_execute(run_id=run.pk)
    assert (run.items_done, run.items_failed) == (1, 1)
    failed = JudgeItem.objects.get(run=run, state="failed")
    assert "max_tokens is too large" in failed.error
    assert "max_tokens is too large" in run.error_summary
    assert judge_server.faults["500"] == 1
    assert Suggestion.objects.filter(run=run).count() == 1  # no suggestion without an answer


def test_cancelled_judge_run_sends_nothing_more(user, make_judge, make_trace, judge_server):
    for i in range(5):
        make_trace(f"t{i}")
    run = services.judge_run_create(judge=make_judge(), user=user, enqueue=False)
    assert services.judge_run_cancel(run=run)
    run = services.judge_run_execute(run_id=run.pk)
    assert run.state == JudgeRun.State.CANCELLED
    assert judge_server.requests == []
    assert set(JudgeItem.objects.filter(run=run).values_list("state", flat=True)) == {"cancelled"}
    assert not services.judge_run_cancel(run=run)  # compare-and-set: once


def test_executing_twice_writes_nothing_twice(user, make_judge, make_trace):
    make_trace("a")
    run = services.judge_run_create(judge=make_judge(), user=user, enqueue=False)
    services.judge_run_execute(run_id=run.pk)
    JudgeRun.objects.filter(pk=run.pk).update(state="running")  # as if redelivered
    services.judge_run_execute(run_id=run.pk)
    assert JudgeSample.objects.filter(run=run).count() == 1
    assert Suggestion.objects.filter(run=run).count() == 1


def test_a_nul_in_the_judges_answer_is_stored_and_parsed(user, make_judge, make_trace, script):
    """PostgreSQL text and jsonb refuse NUL: before the fix the whole batch failed to write."""
    trace = make_trace("nul")
    script.answers["nul"] = ["Step 1 is wrong\x00.\nVerdict: incorrect\n\\boxed{1}"]
    run = services.judge_run_create(judge=make_judge("critique"), user=user, enqueue=False)
    run = services.judge_run_execute(run_id=run.pk)
    assert (run.items_done, run.items_failed) == (1, 0)
    sample = JudgeSample.objects.get(run=run, trace=trace)
    assert "\x00" not in sample.raw_output and "\ufffd" in sample.raw_output
    suggestion = Suggestion.objects.get(run=run)
    assert (suggestion.verdict, suggestion.first_error_step) == ("incorrect", 1)


def test_a_judge_whose_provider_cannot_be_built_fails_every_item(
    user, make_judge, make_trace, judge_server
):
    make_trace("a"), make_trace("b")
    judge = make_judge(samples_per_trace=2)
    run = services.judge_run_create(judge=judge, user=user, enqueue=False)
    ModelConfig.objects.filter(pk=judge.model_config_id).update(provider="carrier-pigeon")

    run = services.judge_run_execute(run_id=run.pk)

    assert run.state == JudgeRun.State.FAILED and run.percent == 100
    assert (run.items_total, run.items_done, run.items_failed) == (4, 0, 4)
    assert "4x Unknown provider kind 'carrier-pigeon'." in run.error_summary
    assert judge_server.requests == []
    assert not Suggestion.objects.filter(run=run).exists()
