from __future__ import annotations

import pytest

from reflectlab.annotations.models import Annotation
from reflectlab.judges import routing
from reflectlab.judges.models import Suggestion
from reflectlab.traces.models import Trace

pytestmark = pytest.mark.django_db


def judged(trace, step, confidence=1.0, parse_state="parsed"):
    return Suggestion.objects.create(
        project=trace.project, trace=trace, source="judge", signal="first_error",
        parse_state=parse_state, first_error_step=step, confidence=confidence,
    )  # fmt: skip


def signals(project):
    rows = routing.annotate_signals(Trace.objects.filter(project=project), project_id=project.pk)
    return {t.pk: {name for name in routing.SIGNALS if getattr(t, name)} for t in rows}


def test_each_signal_flags_the_trace_it_describes(project, user, make_trace):
    plain = make_trace("plain")  # steps 0-2, final answer 6 vs reference 5: wrong
    disagree = make_trace("disagree")
    after_analyser = make_trace("after")
    unsure = make_trace("unsure")
    right = make_trace("right", steps=["We need 2 + 3.", "2 + 3 = 5.\n</think>\n\n\\boxed{5}"])
    judged(plain, 1)
    judged(disagree, 1)
    Annotation.objects.create(
        project=project, trace=disagree, annotator=user, first_error_step=0, state="submitted"
    )
    judged(after_analyser, -1)
    Suggestion.objects.create(
        project=project, trace=after_analyser, source="analyser", signal="wrong_candidate",
        parse_state="parsed", first_error_step=2,
    )  # fmt: skip
    judged(unsure, 1, confidence=0.4)
    judged(right, 0)
    assert right.final_correct is True
    found = signals(project)
    assert found[plain.pk] == set()
    assert found[disagree.pk] == {"judge_human_disagree"}
    assert found[after_analyser.pk] == {"judge_analyser_disagree"}
    assert found[unsure.pk] == {"judge_unsure"}
    assert found[right.pk] == {"right_but_process_error"}


def test_queue_puts_right_answers_with_a_judged_process_error_first(project, user, make_trace):
    from reflectlab.review.models import QueueItem
    from reflectlab.review.queue import queue_policy_set, queue_sync

    steps = ["We need 2 + 3.", "2 + 3 = 5.\n</think>\n\n\\boxed{5}"]
    clean = make_trace("clean", steps=steps)
    flawed = make_trace("flawed", steps=steps)
    judged(clean, -1)
    judged(flawed, 0)
    queue_policy_set(project=project, policy={"order": ["right_but_process_error_first"]})
    queue_sync(project=project, full=True)
    ranks = dict(QueueItem.objects.values_list("trace_id", "rank"))
    assert ranks[flawed.pk] < ranks[clean.pk]


def test_unknown_policy_keys_are_still_refused(project):
    from django.core.exceptions import ValidationError

    from reflectlab.review.queue import queue_policy_set

    with pytest.raises(ValidationError, match="Unknown order keys"):
        queue_policy_set(project=project, policy={"order": ["judge_vibes_first"]})
