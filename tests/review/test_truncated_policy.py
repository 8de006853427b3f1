"""A truncated trace that never answered is demoted below wrong answers by default (issue 14)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from reflectlab.review import claims, queue
from reflectlab.review.policy import QueuePolicy
from reflectlab.traces.models import Trace
from tests.factories import TraceFactory
from tests.traces.test_outcome import truncated_trace, wrong_trace

pytestmark = pytest.mark.django_db


def order(project, member, n):
    return [
        claims.queue_next(project=project, user=member(), rng=lambda: 1.0).trace_id
        for _ in range(n)
    ]


def test_default_serves_wrong_answers_before_truncated_ones(project, member):
    truncated = truncated_trace(project)  # older: it used to come first
    wrong = wrong_trace(project)
    right = TraceFactory(project=project)
    queue.queue_policy_set(project=project, policy={"gold_rate": 0})
    assert order(project, member, 3) == [wrong.pk, truncated.pk, right.pk]


@pytest.mark.parametrize(
    ("place", "expected"),
    [("with_wrong", ["truncated", "wrong", "right"]), ("last", ["wrong", "right", "truncated"])],
)
def test_managers_choose_where_truncated_goes(project, member, place, expected):
    made = {
        "truncated": truncated_trace(project),
        "wrong": wrong_trace(project),
        "right": TraceFactory(project=project),
    }
    queue.queue_policy_set(project=project, policy={"gold_rate": 0, "truncated_no_answer": place})
    assert order(project, member, 3) == [made[name].pk for name in expected]


def test_the_policy_key_is_validated_and_saved_from_the_form(logged_in, project):
    with pytest.raises(ValidationError):
        QueuePolicy.from_json({"truncated_no_answer": "first"})
    response = logged_in.post(
        f"/projects/{project.pk}/queue/policy",
        {
            "order_1": "wrong_first",
            "correctness": "any",
            "gold_rate": "0",
            "truncated_no_answer": "last",
        },
    )
    assert response.status_code in (200, 302)
    project.refresh_from_db()
    assert project.queue_policy["truncated_no_answer"] == "last"
    assert Trace.objects.count() == 0
