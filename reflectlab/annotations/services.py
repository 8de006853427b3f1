"""Writing annotations: compare-and-set saves, submit, hints that regenerate, next item."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from reflectlab.annotations.models import Annotation
from reflectlab.traces.models import Trace

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

    from reflectlab.projects.models import Project

# The fields a save may change; everything else is the service's business.
REOPENABLE = (Annotation.State.DRAFT, Annotation.State.REJECTED)
EDITABLE_FIELDS = (
    "step_labels",
    "first_error_step",
    "error_category",
    "hint",
    "hint_step",
    "critique",
    "verdict",
    "violated_principles",
)
# One save never adds more than this much time (a laptop asleep on the page).
MAX_ELAPSED_PER_SAVE = 15 * 60


class Conflict(Exception):
    """A save carried a stale version: someone else saved first.

    ``current`` is the annotation as the server has it now, so the client can
    show it beside the user's unsaved input.
    """

    def __init__(self, current: Annotation):
        super().__init__(f"Annotation {current.pk} is at version {current.version}.")
        self.current = current


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
    try:
        with transaction.atomic():
            return Annotation.objects.create(
                project_id=trace.project_id, trace=trace, annotator_id=user.pk
            )
    except IntegrityError:  # another tab created it between our read and write
        return Annotation.objects.get(trace=trace, annotator_id=user.pk)


def _validate_changes(annotation: Annotation, changes: dict[str, Any]) -> dict[str, Any]:
    unknown = set(changes) - set(EDITABLE_FIELDS) - {"branch_id"}
    if unknown:
        raise ValidationError(f"Not editable: {', '.join(sorted(unknown))}.")
    n_steps = annotation.trace.n_steps
    errors: dict[str, str] = {}
    labels = changes.get("step_labels")
    if labels is not None and (
        not isinstance(labels, dict)
        or any(
            not str(k).isdigit() or int(k) >= n_steps or v not in (-1, 0, 1)
            for k, v in labels.items()
        )
    ):
        errors["step_labels"] = "Step labels map step indexes to +1, 0 or -1."
    first = changes.get("first_error_step")
    if first is not None and not -1 <= first < n_steps:
        errors["first_error_step"] = "First error must be a step of this trace, or -1 (none)."
    categories = annotation.project.error_categories or []
    if changes.get("error_category") and changes["error_category"] not in categories:
        errors["error_category"] = "Choose one of the project's error categories."
    principles = changes.get("violated_principles")
    if principles is not None and any(
        p not in (annotation.project.principles or []) for p in principles
    ):
        errors["violated_principles"] = "Only the project's principles can be checked."
    hint_step = changes.get("hint_step")
    if hint_step is not None and not 0 <= hint_step < n_steps:
        errors["hint_step"] = "The hint must sit at a step of this trace."
    if errors:
        raise ValidationError(errors)
    return changes


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
    changes = _validate_changes(annotation, dict(changes))
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
            raise Conflict(annotation)
        raise ValidationError(f"This annotation is {annotation.state} and can no longer change.")
    return annotation


def annotation_submit(
    *, annotation_id: int, user: AbstractBaseUser, version: int | None = None
) -> Annotation:
    """Draft → submitted (for review). Only the annotator; needs a first-error answer."""
    annotation = Annotation.objects.get(pk=annotation_id)
    if annotation.annotator_id != user.pk:
        raise PermissionDenied("Only the annotator may submit this annotation.")
    if annotation.first_error_step is None:
        raise ValidationError("Mark the first wrong step (e) or “no error” before submitting.")
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
            raise Conflict(annotation)
        raise ValidationError(f"This annotation is already {annotation.state}.")
    # The queue slot this user held for the trace is now done (not released).
    from reflectlab.review.services import claim_complete

    claim_complete(trace=annotation.trace, user=user)
    return annotation


def annotation_regenerate(
    *, annotation: Annotation, user: AbstractBaseUser, version: int, step: int, hint: str
) -> tuple[Annotation, Trace]:
    """Start a branch from ``hint`` at ``step`` and link it to the annotation.

    The continuation itself is the runs service's (issue 4); it returns a
    pending branch that a worker fills in.
    """
    hint = hint.strip()
    if not hint:
        raise ValidationError({"hint": "Write the hint first (h)."})
    # Imported here: the runs service is optional for this module to load.
    from reflectlab.runs.services import trace_regenerate

    with transaction.atomic():
        # Save first so a stale page cannot start a branch on top of another's work.
        annotation = annotation_save(
            annotation_id=annotation.pk,
            user=user,
            version=version,
            changes={"hint": hint, "hint_step": step},
        )
        branch = trace_regenerate(trace=annotation.trace, step_index=step, hint=hint, user=user)
        Annotation.objects.filter(pk=annotation.pk).update(branch=branch)
    annotation.branch = branch
    return annotation, branch


def annotation_next_trace(
    *, project: Project, user: AbstractBaseUser, after: int | None = None
) -> Trace | None:
    """The next item for ``user``: the review queue's, when it exists.

    Until queues exist (issue 6) it is the next ready trace of the project
    (by id, wrapping around) this user has not submitted an annotation for.
    """
    try:
        from reflectlab.review.services import queue_next
    except ImportError:
        queue_next = None
    if queue_next is not None:
        item = queue_next(project=project, user=user)
        if item is None or isinstance(item, Trace):
            return item
        return getattr(item, "trace", None)
    done = Annotation.objects.filter(annotator_id=user.pk, project=project).exclude(
        state=Annotation.State.DRAFT
    )
    candidates = (
        Trace.objects.filter(project=project, state=Trace.State.READY, parent__isnull=True)
        .exclude(pk__in=done.values("trace_id"))
        .order_by("id")
        .only("id")
    )
    if after is not None:
        nxt = candidates.filter(pk__gt=after).first()
        if nxt is not None:
            return nxt
        candidates = candidates.exclude(pk=after)
    return candidates.first()
