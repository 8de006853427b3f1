"""Writing annotations: compare-and-set saves, submit, hints that regenerate."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from reflectlab.annotations.models import Annotation
from reflectlab.annotations.validation import ANNOTATION_FIELDS, annotation_fields_validate
from reflectlab.core.errors import Conflict
from reflectlab.projects.models import Membership, Role
from reflectlab.review.claims import claim_complete
from reflectlab.review.models import Claim
from reflectlab.runs.services import trace_regenerate
from reflectlab.traces.models import Trace

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

# The fields a save may change; everything else is the service's business.
REOPENABLE = Annotation.REOPENABLE
EDITABLE_FIELDS = (*ANNOTATION_FIELDS, "branch_id")
# One save never adds more than this much time (a laptop asleep on the page).
MAX_ELAPSED_PER_SAVE = 15 * 60


def _stale(current: Annotation) -> Conflict:
    """Someone saved first: the 409 carries the server's annotation."""
    return Conflict(
        "Stale version: someone saved this annotation first.",
        current=current,
        state=annotation_state(current),
    )


def annotation_state(annotation: Annotation) -> dict[str, Any]:
    """The annotation as the client sees it (saves, conflicts, the API)."""
    return {
        "id": annotation.pk,
        "trace": annotation.trace_id,
        "project": annotation.project_id,
        "annotator": annotation.annotator_id,
        "state": annotation.state,
        "version": annotation.version,
        "step_labels": annotation.step_labels,
        "first_error_step": annotation.first_error_step,
        "error_category": annotation.error_category,
        "hint": annotation.hint,
        "hint_step": annotation.hint_step,
        "branch": annotation.branch_id,
        "critique": annotation.critique,
        "verdict": annotation.verdict,
        "violated_principles": annotation.violated_principles,
        "step_reasons": annotation.step_reasons,
        "replacement_step": annotation.replacement_step,
        "replacement_alternatives": annotation.replacement_alternatives,
        "flawed_process": annotation.flawed_process,
        "exit_reason": annotation.exit_reason,
        "reflection_quality": annotation.reflection_quality,
        "time_spent_seconds": annotation.time_spent_seconds,
        "updated_at": annotation.updated_at.isoformat() if annotation.updated_at else None,
        "submitted_at": annotation.submitted_at.isoformat() if annotation.submitted_at else None,
    }


def annotation_get_or_create(*, trace: Trace, user: AbstractBaseUser) -> Annotation:
    """The user's annotation of ``trace``; one per (trace, annotator), race-safe."""
    if trace.parent_id is not None:
        raise ValidationError("Branches are annotated through their parent trace.")
    annotation = Annotation.objects.filter(trace=trace, annotator_id=user.pk).first()
    if annotation is not None:
        return annotation
    if not _may_start(trace, user):
        raise PermissionDenied(
            f"Trace {trace.pk} is not claimed by you: take your next trace from the queue "
            f"(each trace gets {trace.project.overlap} annotators)."
        )
    try:
        with transaction.atomic():
            return Annotation.objects.create(
                project_id=trace.project_id, trace=trace, annotator_id=user.pk
            )
    except IntegrityError:  # another tab created it between our read and write
        return Annotation.objects.get(trace=trace, annotator_id=user.pk)


def _may_start(trace: Trace, user: AbstractBaseUser) -> bool:
    """Annotators start an annotation only on a trace the queue gave them (a
    live or done claim), so no one annotates past the project's overlap;
    reviewers and managers may annotate any trace (they adjudicate)."""
    membership = Membership.objects.filter(project_id=trace.project_id, user_id=user.pk).first()
    if membership is not None and membership.allows(Role.REVIEWER):
        return True
    return (
        Claim.objects.filter(trace=trace, user_id=user.pk, kind=Claim.Kind.ANNOTATE)
        .filter(
            Q(state=Claim.State.DONE) | Q(state=Claim.State.ACTIVE, expires_at__gt=timezone.now())
        )
        .exists()
    )


def annotation_save(
    *,
    annotation_id: int,
    user: AbstractBaseUser,
    version: int,
    changes: dict[str, Any],
    elapsed_seconds: int = 0,
) -> Annotation:
    """Compare-and-set save of a draft: applies only if ``version`` is current.

    Raises ``Conflict`` (with the server's state) when someone saved first;
    nothing is merged silently (DESIGN §12). ``elapsed_seconds`` is the time
    the page was visible since its last save, added to ``time_spent_seconds``.
    """
    annotation = Annotation.objects.select_related("project", "trace").get(pk=annotation_id)
    if annotation.annotator_id != user.pk:
        raise PermissionDenied("Only the annotator may change this annotation.")
    changes = dict(changes)
    branch = {"branch_id": changes.pop("branch_id")} if "branch_id" in changes else {}
    changes = {
        **annotation_fields_validate(
            changes=changes,
            trace=annotation.trace,
            project=annotation.project,
            annotation=annotation,
        ),
        **branch,
    }
    elapsed = max(0, min(int(elapsed_seconds or 0), MAX_ELAPSED_PER_SAVE))
    # A rejected annotation is back with its author: editing makes it a draft again.
    updated = Annotation.objects.filter(
        pk=annotation_id, version=version, state__in=REOPENABLE
    ).update(
        **changes,
        state=Annotation.State.DRAFT,
        time_spent_seconds=F("time_spent_seconds") + elapsed,
        version=version + 1,
        updated_at=timezone.now(),
    )
    annotation.refresh_from_db()
    if not updated:
        if annotation.version != version:
            raise _stale(annotation)
        raise ValidationError(f"This annotation is {annotation.state} and can no longer change.")
    return annotation


def annotation_submit(
    *, annotation_id: int, user: AbstractBaseUser, version: int | None = None
) -> Annotation:
    """Draft → submitted (for review). Only the annotator; needs a first-error answer."""
    annotation = Annotation.objects.get(pk=annotation_id)
    if annotation.annotator_id != user.pk:
        raise PermissionDenied("Only the annotator may submit this annotation.")
    if annotation.first_error_step is None and not annotation.exit_reason:
        raise ValidationError(
            "Mark the first wrong step (e) or “no error”, or give an exit reason, before submitting."
        )
    queryset = Annotation.objects.filter(pk=annotation_id, state__in=REOPENABLE)
    if version is not None:
        queryset = queryset.filter(version=version)
    now = timezone.now()
    updated = queryset.update(
        state=Annotation.State.SUBMITTED,
        submitted_at=now,
        updated_at=now,
        version=F("version") + 1,
    )
    annotation.refresh_from_db()
    if not updated:
        if version is not None and annotation.version != version:
            raise _stale(annotation)
        raise ValidationError(f"This annotation is already {annotation.state}.")
    # The queue slot this user held for the trace is now done (not released).
    claim_complete(trace=annotation.trace, user=user)
    return annotation


def annotation_regenerate(
    *,
    annotation: Annotation,
    user: AbstractBaseUser,
    version: int,
    step: int,
    hint: str,
    model_config: Any = None,
) -> tuple[Annotation, Trace]:
    """Start a branch from ``hint`` at ``step`` and link it to the annotation.

    The continuation itself is the runs service's (issue 4); it returns a
    pending branch that a worker fills in.
    """
    hint = hint.strip()
    if not hint:
        raise ValidationError({"hint": "Write the hint first (h)."})
    with transaction.atomic():
        # Save first so a stale page cannot start a branch on top of another's work.
        annotation = annotation_save(
            annotation_id=annotation.pk,
            user=user,
            version=version,
            changes={"hint": hint, "hint_step": step},
        )
        # Only when given: the default (the trace's run's config) needs no argument.
        chosen = {"model_config": model_config} if model_config is not None else {}
        branch = trace_regenerate(
            trace=annotation.trace, step_index=step, hint=hint, user=user, **chosen
        )
        Annotation.objects.filter(pk=annotation.pk).update(branch=branch)
    annotation.branch = branch
    return annotation, branch
