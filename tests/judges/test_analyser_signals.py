from __future__ import annotations

import pytest

from reflectlab.judges import services
from reflectlab.judges.folding import analyser_signals
from reflectlab.judges.models import Suggestion
from reflectlab.traces.models import Trace

pytestmark = pytest.mark.django_db


def test_the_first_wrong_candidate_answer_is_an_analyser_suggestion(make_trace, project):
    trace = make_trace(
        "w"
    )  # steps: "We need 2 + 3." / "2 + 3 = 6." / "... \\boxed{6}" vs reference 5
    signals = analyser_signals(trace)
    wrong = next(s for s in signals if s.signal == "wrong_candidate")
    candidate = next(c for c in trace.analysis["candidates"] if c["correct"] is False)
    assert wrong.first_error_step == candidate["step"]
    assert wrong.source == "analyser" and wrong.confidence is None
    assert services.analyser_suggestions_ensure(traces=[trace]) == len(signals)
    services.analyser_suggestions_ensure(traces=[trace])  # idempotent
    assert Suggestion.objects.filter(trace=trace, source="analyser").count() == len(signals)


def test_srgen_entropy_spikes_map_to_the_steps_holding_the_tokens(project):
    text = "aaaa\n\nbbbb"
    trace = Trace(
        pk=1, project=project, raw_response=text,
        logprobs=[{"token": "aa"}, {"token": "aa"}, {"token": "\n\n"}, {"token": "bb"}, {"token": "bb"}],
        analysis={"extraction": {"source": "untagged"}, "uncertainty": {"flagged": [3]},
                  "steps": [{"index": 0, "start": 0, "end": 4}, {"index": 1, "start": 6, "end": 10}]},
    )  # fmt: skip
    (spike,) = [s for s in analyser_signals(trace) if s.signal == "uncertainty"]
    assert spike.flagged_steps == [1]


def test_no_logprobs_no_uncertainty_signal(make_trace):
    assert not [s for s in analyser_signals(make_trace("n")) if s.signal == "uncertainty"]


def test_a_project_with_judge_runs_can_be_deleted_but_a_used_config_cannot(
    project, user, make_judge, make_trace
):
    from django.db.models import RestrictedError

    make_trace("a")
    judge = make_judge()
    services.judge_run_create(judge=judge, user=user, enqueue=False)
    with pytest.raises(RestrictedError):
        judge.model_config.delete()
    project.delete()
    assert not Suggestion.objects.exists()
