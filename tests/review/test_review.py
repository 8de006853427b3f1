from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from reflectlab.annotations.models import Annotation
from reflectlab.core import errors
from reflectlab.review import claims, decisions, selectors
from reflectlab.review.models import Claim, Review
from tests.review.conftest import submit

pytestmark = pytest.mark.django_db


def test_reviewers_claim_submitted_annotations_one_at_a_time(project, member, traces):
    a, b = traces(2)
    alice = member()
    first, second = submit(a, alice), submit(b, alice)
    r1, r2, r3 = member("reviewer"), member("reviewer"), member("reviewer")
    c1 = decisions.review_next(project=project, user=r1)
    c2 = decisions.review_next(project=project, user=r2)
    assert {c1.annotation_id, c2.annotation_id} == {first.pk, second.pk}
    assert decisions.review_next(project=project, user=r3) is None
    assert decisions.review_next(project=project, user=r1).pk == c1.pk  # resume


def test_a_reviewer_never_gets_their_own_annotation(project, member, traces):
    (trace,) = traces(1)
    reviewer = member("reviewer")
    own = submit(trace, reviewer)
    assert decisions.review_next(project=project, user=reviewer) is None
    with pytest.raises(PermissionDenied):
        decisions.review_decide(annotation=own, reviewer=reviewer, decision="accept")


def test_accept_makes_the_annotation_final_and_closes_the_claim(project, member, traces):
    (trace,) = traces(1)
    annotation = submit(trace, member())
    reviewer = member("reviewer")
    claim = decisions.review_next(project=project, user=reviewer)
    review = decisions.review_decide(
        annotation=annotation, reviewer=reviewer, decision="accept", version=1
    )
    annotation.refresh_from_db()
    claim.refresh_from_db()
    assert annotation.state == "accepted" and annotation.version == 2
    assert claim.state == "done"
    assert review.original["first_error_step"] == 1 and review.started_at == claim.created_at


def test_reject_needs_a_comment_and_returns_the_annotation_to_its_author(project, member, traces):
    (trace,) = traces(1)
    annotation = submit(trace, member())
    reviewer = member("reviewer")
    with pytest.raises(ValidationError):
        decisions.review_decide(annotation=annotation, reviewer=reviewer, decision="reject")
    decisions.review_decide(
        annotation=annotation, reviewer=reviewer, decision="reject", comment="Step 2 is fine."
    )
    annotation.refresh_from_db()
    assert annotation.state == "rejected"
    assert Review.objects.get().comment == "Step 2 is fine."


def test_edit_keeps_the_original_and_applies_the_reviewers_version(project, member, traces):
    (trace,) = traces(1)
    annotation = submit(trace, member(), verdict="correct", step_labels={"0": 1})
    reviewer = member("reviewer")
    review = decisions.review_decide(
        annotation=annotation,
        reviewer=reviewer,
        decision="edit",
        edits={"first_error_step": 2, "verdict": "incorrect", "step_labels": {"0": -1}},
    )
    annotation.refresh_from_db()
    assert annotation.state == "accepted"
    assert (annotation.first_error_step, annotation.verdict) == (2, "incorrect")
    assert review.original["first_error_step"] == 1 and review.original["verdict"] == "correct"
    assert review.edits == {"first_error_step": 2, "verdict": "incorrect", "step_labels": {"0": -1}}


@pytest.mark.parametrize(
    "edits",
    [{"state": "accepted"}, {"first_error_step": -3}, {"step_labels": {"0": 5}}, {"verdict": "x"}],
)
def test_edits_are_validated(project, member, traces, edits):
    (trace,) = traces(1)
    annotation = submit(trace, member())
    with pytest.raises(ValidationError):
        decisions.review_decide(
            annotation=annotation, reviewer=member("reviewer"), decision="edit", edits=edits
        )


def test_a_stale_decision_is_a_conflict_not_an_overwrite(project, member, traces):
    (trace,) = traces(1)
    annotation = submit(trace, member())
    r1, r2 = member("reviewer"), member("reviewer")
    stale = Annotation.objects.get(pk=annotation.pk)
    decisions.review_decide(annotation=annotation, reviewer=r1, decision="accept", version=1)
    with pytest.raises(errors.Conflict):
        decisions.review_decide(annotation=stale, reviewer=r2, decision="reject", comment="no")
    # a version mismatch alone is refused too
    other = submit(traces(1)[0], member())
    Annotation.objects.filter(pk=other.pk).update(version=5)
    with pytest.raises(errors.Conflict):
        decisions.review_decide(annotation=other, reviewer=r1, decision="accept", version=1)


def test_a_held_annotation_cannot_be_decided_by_another_reviewer(project, member, traces):
    (trace,) = traces(1)
    annotation = submit(trace, member())
    r1, r2 = member("reviewer"), member("reviewer")
    decisions.review_next(project=project, user=r1)
    with pytest.raises(errors.Conflict):
        decisions.review_decide(annotation=annotation, reviewer=r2, decision="accept")


def test_disagreements_are_routed_to_review_first(project, member, traces):
    calm, disputed = traces(2)
    alice, bob = member(), member()
    submit(calm, alice, first_error_step=2)
    submit(calm, bob, first_error_step=2)
    late = submit(disputed, alice, first_error_step=1)
    submit(disputed, bob, first_error_step=6)
    order = selectors.review_candidates(project=project, user=member("reviewer"))
    assert order[0].trace_id == disputed.pk and late in order[:2]
    project.queue_policy = {"review_disagreements_first": False}
    project.save()
    order = selectors.review_candidates(project=project, user=member("reviewer"))
    assert order[0].trace_id == calm.pk


def test_releasing_a_review_claim_puts_the_annotation_back(project, member, traces):
    (trace,) = traces(1)
    submit(trace, member())
    r1, r2 = member("reviewer"), member("reviewer")
    claim = decisions.review_next(project=project, user=r1)
    claims.claim_release(claim=claim, by=r1)
    assert decisions.review_next(project=project, user=r2).annotation_id == claim.annotation_id
    assert Claim.objects.filter(kind="review", state="active").count() == 1


@pytest.mark.parametrize(
    "edits",
    [
        {"first_error_step": "n_steps"},
        {"step_labels": {"n_steps": -1}},
        {"error_category": "not one of the project's"},
        {"violated_principles": ["not one of the project's"]},
    ],
)
def test_a_reviewer_edit_outside_the_trace_or_project_is_refused_not_saved(
    project, member, traces, edits
):
    # A first error past the last step used to be saved (and silently dropped
    # the row from the ``stepwise`` export): the annotator's bounds hold here too.
    (trace,) = traces(1)
    annotation = submit(trace, member())
    name, value = next(iter(edits.items()))
    if value == "n_steps":
        value = trace.n_steps
    elif isinstance(value, dict):
        value = {str(trace.n_steps): -1}
    with pytest.raises(ValidationError) as refused:
        decisions.review_decide(
            annotation=annotation,
            reviewer=member("reviewer"),
            decision="edit",
            edits={name: value},
        )
    assert name in refused.value.message_dict
    stored = Annotation.objects.get(pk=annotation.pk)
    assert (stored.state, stored.version, stored.first_error_step) == ("submitted", 1, 1)
    assert not Review.objects.exists()
