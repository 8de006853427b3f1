"""Reviews: claim the next submitted annotation, then accept, reject or edit it.

A review claim holds one submitted annotation for one reviewer (a lease like
the annotate claims). The decision is compare-and-set on the annotation's
(state, version); a reviewer's edits pass the same validator as the
annotator's own saves (``annotations.validation``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from reflectlab.annotations.models import Annotation
from reflectlab.annotations.validation import annotation_fields_validate
from reflectlab.core.errors import Conflict
from reflectlab.judges.memory import hint_memory_refresh
from reflectlab.projects.models import Project
from reflectlab.review.claims import MAX_ATTEMPTS, claim_ttl, claims_expire
from reflectlab.review.models import Claim, Review
from reflectlab.review.selectors import current_review_claim, review_candidates


def review_next(*, project: Project, user, now: datetime | None = None) -> Claim | None:
    """Claim the next submitted annotation to review (or the one already held)."""
    now = now or timezone.now()
    current = current_review_claim(project=project, user=user, now=now)
    if current is not None:
        return current
    claims_expire(project=project, now=now)
    for annotation in review_candidates(project=project, user=user)[:MAX_ATTEMPTS]:
        try:
            with transaction.atomic():
                if not Annotation.objects.filter(
                    pk=annotation.pk, state=Annotation.State.SUBMITTED
                ).exists():
                    continue
                return Claim.objects.create(
                    project=project,
                    trace_id=annotation.trace_id,
                    annotation=annotation,
                    user_id=user.pk,
                    kind=Claim.Kind.REVIEW,
                    slot=0,
                    created_at=now,
                    expires_at=now + claim_ttl(),
                )
        except IntegrityError:
            continue
    return None


# What a reviewer may change (the hint's step and branch stay the annotator's).
EDITABLE = (
    "step_labels",
    "first_error_step",
    "error_category",
    "hint",
    "critique",
    "verdict",
    "violated_principles",
)


def annotation_snapshot(annotation: Annotation) -> dict[str, Any]:
    return {
        "step_labels": annotation.step_labels,
        "first_error_step": annotation.first_error_step,
        "error_category": annotation.error_category,
        "hint": annotation.hint,
        "hint_step": annotation.hint_step,
        "branch_id": annotation.branch_id,
        "critique": annotation.critique,
        "verdict": annotation.verdict,
        "violated_principles": annotation.violated_principles,
        "time_spent_seconds": annotation.time_spent_seconds,
        "version": annotation.version,
        "submitted_at": annotation.submitted_at.isoformat() if annotation.submitted_at else None,
    }


def review_edits_clean(*, edits: dict[str, Any], annotation: Annotation) -> dict[str, Any]:
    """Validate a reviewer's edits against the trace and project; keep only real changes."""
    edits = annotation_fields_validate(
        changes=edits, trace=annotation.trace, project=annotation.project, allowed=EDITABLE
    )
    return {name: value for name, value in edits.items() if value != getattr(annotation, name)}


@transaction.atomic
def review_decide(
    *,
    annotation: Annotation,
    reviewer,
    decision: str,
    comment: str = "",
    edits: dict[str, Any] | None = None,
    version: int | None = None,
    now: datetime | None = None,
) -> Review:
    """Accept, reject (with a comment: the annotation returns to its author) or
    edit (the reviewer's values become the annotation's, the original is kept
    on the Review). Compare-and-set on (state, version): a stale decision is a
    Conflict."""
    now = now or timezone.now()
    if decision not in Review.Decision.values:
        raise ValidationError("decision must be accept, reject or edit.")
    if annotation.annotator_id == reviewer.pk:
        raise PermissionDenied("You cannot review your own annotation.")
    version = annotation.version if version is None else version
    comment = (comment or "").strip()
    if decision == Review.Decision.REJECT and not comment:
        raise ValidationError("Say why you reject it: the comment goes to the annotator.")
    if annotation.state != Annotation.State.SUBMITTED:
        raise Conflict(
            f"This annotation is {annotation.get_state_display().lower()}, not submitted."
        )
    changes = (
        review_edits_clean(edits=edits or {}, annotation=annotation)
        if decision == Review.Decision.EDIT
        else {}
    )
    if decision == Review.Decision.EDIT and not changes:
        raise ValidationError("Nothing was edited; accept it instead.")
    other = Claim.objects.filter(
        annotation=annotation, kind=Claim.Kind.REVIEW, state=Claim.State.ACTIVE, expires_at__gt=now
    ).exclude(user_id=reviewer.pk)
    if other.exists():
        raise Conflict("Another reviewer holds this annotation.")
    snapshot = annotation_snapshot(annotation)
    new_state = (
        Annotation.State.REJECTED
        if decision == Review.Decision.REJECT
        else Annotation.State.ACCEPTED
    )
    updated = Annotation.objects.filter(
        pk=annotation.pk, state=Annotation.State.SUBMITTED, version=version
    ).update(state=new_state, version=version + 1, updated_at=now, **changes)
    if not updated:
        raise Conflict("The annotation changed since you opened it; reload and decide again.")
    started = (
        Claim.objects.filter(annotation=annotation, kind=Claim.Kind.REVIEW, user_id=reviewer.pk)
        .order_by("-created_at")
        .values_list("created_at", flat=True)
        .first()
    )
    Claim.objects.filter(
        annotation=annotation, kind=Claim.Kind.REVIEW, state=Claim.State.ACTIVE
    ).update(state=Claim.State.DONE, ended_at=now)
    annotation.refresh_from_db()
    if new_state == Annotation.State.ACCEPTED and annotation.hint:
        hint_memory_refresh(project=annotation.project)  # the hint joins the hint memory
    return Review.objects.create(
        project_id=annotation.project_id,
        annotation=annotation,
        reviewer=reviewer,
        decision=decision,
        comment=comment,
        edits=changes,
        original=snapshot,
        annotation_version=version,
        started_at=started,
        created_at=now,
    )
