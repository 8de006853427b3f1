from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import IntegrityError, transaction

from reflectlab.annotations.models import Annotation
from reflectlab.core import errors
from reflectlab.review import claims, queue
from reflectlab.review.models import Claim, GoldItem, QueueItem
from reflectlab.review.selectors import annotator_stats
from reflectlab.traces.models import Trace
from tests.factories import TraceFactory
from tests.review.conftest import submit

pytestmark = pytest.mark.django_db
NO_GOLD = {"gold_rate": 0}


def next_for(project, user, **kwargs):
    return claims.queue_next(project=project, user=user, rng=lambda: 1.0, **kwargs)


def test_claim_returns_a_root_trace_and_never_a_branch(project, member, traces):
    (root,) = traces(1)
    TraceFactory(project=project, prompt=root.prompt, parent=root)
    alice = member()
    claim = next_for(project, alice)
    assert claim.trace_id == root.pk and claim.slot == 0 and claim.state == "active"
    bob = member()
    assert next_for(project, bob) is None  # overlap 1, and the branch never enters


def test_pressing_next_twice_resumes_the_same_claim(project, member, traces):
    traces(3)
    alice = member()
    first = next_for(project, alice)
    assert next_for(project, alice).pk == first.pk


def test_claim_never_exceeds_overlap_and_nobody_gets_a_trace_twice(project, member, traces):
    project.overlap = 2
    project.save()
    (trace,) = traces(1)
    users = [member() for _ in range(3)]
    got = []
    for user in users:
        claim = next_for(project, user)
        if claim:
            got.append(claim.trace_id)
            claims.claim_complete(trace=trace, user=user)
    assert got == [trace.pk, trace.pk]
    # the first annotator, done, does not get it again
    assert next_for(project, users[0]) is None


def test_database_refuses_a_third_holder_even_past_the_service(project, member, traces):
    (trace,) = traces(1)
    alice, bob = member(), member()
    soon = datetime.now(tz=UTC) + timedelta(minutes=5)
    Claim.objects.create(project=project, trace=trace, user=alice, slot=0, expires_at=soon)
    with pytest.raises(IntegrityError), transaction.atomic():
        Claim.objects.create(project=project, trace=trace, user=bob, slot=0, expires_at=soon)
    with pytest.raises(IntegrityError), transaction.atomic():
        Claim.objects.create(project=project, trace=trace, user=alice, slot=1, expires_at=soon)


def test_order_is_wrong_first_then_corrective_then_most_reflection(project, member):
    right = TraceFactory(project=project)
    Trace.objects.filter(pk=right.pk).update(final_correct=True, n_reflection_steps=9)
    wrong = TraceFactory(project=project)
    Trace.objects.filter(pk=wrong.pk).update(final_correct=False, n_reflection_steps=0)
    corrective = TraceFactory(project=project)
    Trace.objects.filter(pk=corrective.pk).update(final_correct=True, has_corrective=True)
    heavy = TraceFactory(project=project)
    Trace.objects.filter(pk=heavy.pk).update(final_correct=True, n_reflection_steps=20)
    project.queue_policy = NO_GOLD
    project.save()
    order = []
    for _ in range(4):
        user = member()
        order.append(next_for(project, user).trace_id)
    assert order == [wrong.pk, corrective.pk, heavy.pk, right.pk]


def test_pinned_items_come_first(project, member, traces):
    first, _, last = traces(3)
    queue.queue_pin(project=project, trace_id=last.pk)
    assert next_for(project, member()).trace_id == last.pk
    assert next_for(project, member()).trace_id == first.pk


def test_policy_filters_which_traces_enter(project, member):
    a = TraceFactory(project=project, model_name="m/a")
    b = TraceFactory(project=project, model_name="m/b")
    Trace.objects.filter(pk=b.pk).update(final_correct=False)
    queue.queue_policy_set(project=project, policy={"models": ["m/b"], "gold_rate": 0})
    assert next_for(project, member()).trace_id == b.pk
    assert next_for(project, member()) is None
    queue.queue_policy_set(project=project, policy={"correctness": "right"})
    assert next_for(project, member()).trace_id == a.pk


def test_invalid_policy_is_refused(project):
    from django.core.exceptions import ValidationError

    for bad in ({"order": ["nope"]}, {"gold_rate": 2}, {"runs": ["x"]}, {"extra": 1}, []):
        with pytest.raises(ValidationError):
            queue.queue_policy_set(project=project, policy=bad)


def test_a_user_with_a_submitted_annotation_is_not_given_the_trace(project, member, traces):
    project.overlap = 2
    project.save()
    (trace,) = traces(1)
    alice = member()
    submit(trace, alice)
    assert next_for(project, alice) is None
    assert next_for(project, member()).trace_id == trace.pk


def test_annotation_outside_the_queue_takes_a_slot(project, member, traces):
    (trace,) = traces(1)
    alice = member()
    submit(trace, alice)
    claims.claim_complete(trace=trace, user=alice)
    assert next_for(project, member()) is None


def test_submitting_closes_the_claim_even_if_nobody_told_the_queue(project, member, traces):
    traces(2)
    alice = member()
    claim = next_for(project, alice)
    submit(claim.trace, alice)
    nxt = next_for(project, alice)
    assert nxt.trace_id != claim.trace_id
    claim.refresh_from_db()
    assert claim.state == "done"


def test_skip_releases_the_trace_for_others_but_not_back_to_the_skipper(project, member, traces):
    (trace,) = traces(1)
    alice, bob = member(), member()
    claim = next_for(project, alice)
    assert claims.claim_release(claim=claim, by=alice)
    assert not claims.claim_release(claim=claim, by=alice)  # already released
    assert next_for(project, alice) is None
    assert next_for(project, bob).trace_id == trace.pk


def test_lease_expires_and_the_trace_returns_to_the_queue(project, member, traces, settings):
    settings.REFLECTLAB_CLAIM_TTL_SECONDS = 600
    (trace,) = traces(1)
    alice, bob = member(), member()
    start = datetime(2026, 1, 1, 12, tzinfo=UTC)
    with time_machine.travel(start, tick=False):
        claim = next_for(project, alice)
    with time_machine.travel(start + timedelta(minutes=9), tick=False):
        assert next_for(project, bob) is None
    with time_machine.travel(start + timedelta(minutes=10, seconds=1), tick=False):
        taken = next_for(project, bob)
        assert taken.trace_id == trace.pk
        with pytest.raises(errors.ClaimLost):
            claims.claim_heartbeat(claim_id=claim.pk, user=alice)
    claim.refresh_from_db()
    assert claim.state == "expired"


def test_heartbeat_keeps_the_lease_alive(project, member, traces, settings):
    settings.REFLECTLAB_CLAIM_TTL_SECONDS = 600
    traces(1)
    alice, bob = member(), member()
    start = datetime(2026, 1, 1, 12, tzinfo=UTC)
    with time_machine.travel(start, tick=False):
        claim = next_for(project, alice)
    for minute in range(1, 30):
        with time_machine.travel(start + timedelta(minutes=minute), tick=False):
            claims.claim_heartbeat(claim_id=claim.pk, user=alice)
    with time_machine.travel(start + timedelta(minutes=35), tick=False):
        assert next_for(project, bob) is None
        assert next_for(project, alice).pk == claim.pk
    with pytest.raises(errors.ClaimLost):
        claims.claim_heartbeat(claim_id=claim.pk, user=bob)  # not bob's


def test_gold_items_are_served_at_the_gold_rate_and_only_once(project, member, traces):
    plain, gold_trace = traces(2)
    queue.gold_set(project=project, trace_id=gold_trace.pk, expected_first_error_step=-1)
    alice = member()
    claim = claims.queue_next(project=project, user=alice, rng=lambda: 0.0)
    assert claim.trace_id == gold_trace.pk and claim.is_gold and claim.slot is None
    submit(gold_trace, alice, first_error_step=-1)
    claim = claims.queue_next(project=project, user=alice, rng=lambda: 0.0)
    assert claim.trace_id == plain.pk  # no gold left for alice: regular work
    # gold items do not use the overlap: everybody gets them
    assert claims.queue_next(project=project, user=member(), rng=lambda: 0.0).trace_id == (
        gold_trace.pk
    )
    # and they never come up as regular work
    assert next_for(project, member()) is None


def test_gold_accuracy_is_scored_per_annotator(project, member, traces):

    a, b = traces(2)
    GoldItem.objects.create(project=project, trace=a, expected_first_error_step=2)
    GoldItem.objects.create(project=project, trace=b, expected_verdict="incorrect")
    alice = member(username="alice")
    submit(a, alice, first_error_step=2)
    submit(b, alice, verdict="correct")
    rows = {r["user"].username: r for r in annotator_stats(project=project)}
    assert rows["alice"]["gold_accuracy"] == 0.5 and rows["alice"]["gold_checks"] == 2


def test_queue_counts_follow_the_claims(project, member, traces):
    project.overlap = 2
    project.save()
    (trace,) = traces(1)
    alice = member()
    claim = next_for(project, alice)
    item = QueueItem.objects.get(trace=trace)
    assert (item.n_taken, item.is_open) == (1, True)
    claims.claim_release(claim=claim, by=alice)
    item.refresh_from_db()
    assert (item.n_taken, item.is_open) == (0, True)
    Annotation.objects.all().delete()


def test_new_traces_join_the_queue_on_the_next_claim(project, member, traces):
    traces(1)
    assert next_for(project, member()) is not None
    assert next_for(project, member()) is None
    (late,) = traces(1)
    assert next_for(project, member()).trace_id == late.pk
