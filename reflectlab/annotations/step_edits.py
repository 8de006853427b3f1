"""Splitting and merging a trace's steps; every annotation of the trace follows.

One ``StepEdit`` per trace (all annotators label the same steps, so their
agreement stays comparable). An edit is applied under a row lock on the
trace's ``StepEdit`` and, in the same transaction, remaps each annotation's
step-indexed fields (``overlay.remap_annotation``) with a version bump: an
open page of another annotator then gets the usual 409 on its next save
instead of writing labels onto the wrong steps.

Undo is the inverse edit: splitting where a merge joined removes the merge,
merging where a split cut removes the split, so the stored edit stays the
smallest one that gives the steps shown.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from reflectlab.annotations.models import Annotation, StepEdit
from reflectlab.projects.models import Membership, Role
from reflectlab.traces.models import Trace
from reflectlab.traces.overlay import edited_steps, remap_annotation, step_map

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

OPS = ("split", "merge")
REMAPPED = ("step_labels", "step_reasons", "first_error_step", "hint_step")


def trace_steps(*, trace: Trace, edit: StepEdit | None = None) -> list[dict[str, Any]]:
    """The steps annotators see: the analysis' steps with the trace's edits applied.

    Without edits these are the stored analysis' own step dicts: read them only.
    """
    analysis = trace.analysis or {}
    steps = analysis.get("steps") or []
    if edit is None:
        edit = StepEdit.objects.filter(trace_id=trace.pk).first()
    if edit is None or not (edit.splits or edit.merges):
        return steps
    return edited_steps(
        steps,
        trace.step_text,
        splits=edit.splits,
        merges=edit.merges,
        strong=analysis.get("split_points") or [],
    )


def _may_edit(trace: Trace, user: AbstractBaseUser) -> bool:
    """Who may annotate the trace may edit its steps: its annotators, reviewers, managers."""
    membership = Membership.objects.filter(project_id=trace.project_id, user_id=user.pk).first()
    if membership is None:
        return False
    if membership.allows(Role.REVIEWER):
        return True
    return Annotation.objects.filter(trace=trace, annotator_id=user.pk).exists()


def _apply(edit: StepEdit, steps: list[dict], op: str, offset: int) -> None:
    """Change ``edit`` in place so ``op`` at ``offset`` holds; ValidationError if it cannot."""
    if op == "split":
        inside = any(s["start"] < offset < s["end"] for s in steps)
        if not inside:
            raise ValidationError({"offset": "A split must fall inside a step, after its start."})
        if offset in edit.merges:
            edit.merges.remove(offset)
        else:
            edit.splits.append(offset)
    else:
        starts = [s["start"] for s in steps[1:]]
        if offset not in starts:
            raise ValidationError(
                {"offset": "A merge joins a step (not the first) to the one before."}
            )
        if offset in edit.splits:
            edit.splits.remove(offset)
        else:
            edit.merges.append(offset)
    edit.splits.sort()
    edit.merges.sort()


def step_edit_apply(
    *, trace_id: int, user: AbstractBaseUser, op: str, offset: int
) -> tuple[StepEdit, list[dict[str, Any]]]:
    """Split the step containing ``offset`` there, or merge the step starting at
    ``offset`` into the one before. Returns the edit and the new steps.

    Refused once an annotation of the trace is accepted: reviewed work keeps
    the steps it was reviewed on.
    """
    if op not in OPS:
        raise ValidationError({"op": "Choose split or merge."})
    trace = Trace.objects.select_related("project").get(pk=trace_id)
    if trace.parent_id is not None:
        raise ValidationError("Branches are edited through their parent trace.")
    if not _may_edit(trace, user):
        raise PermissionDenied("Only the trace's annotators and reviewers may edit its steps.")
    with transaction.atomic():
        StepEdit.objects.get_or_create(trace=trace)
        edit = StepEdit.objects.select_for_update().get(trace=trace)
        annotations = Annotation.objects.select_for_update().filter(trace=trace).order_by("id")
        if any(a.state == Annotation.State.ACCEPTED for a in annotations):
            raise ValidationError("An accepted annotation was made on these steps; they stay.")
        before = trace_steps(trace=trace, edit=edit)
        _apply(edit, before, op, offset)
        after = trace_steps(trace=trace, edit=edit)
        mapping = step_map(before, after)
        for a in annotations:
            changes = remap_annotation({name: getattr(a, name) for name in REMAPPED}, mapping)
            Annotation.objects.filter(pk=a.pk).update(
                **changes, version=F("version") + 1, updated_at=timezone.now()
            )
        edit.author_id = user.pk
        edit.version += 1
        edit.save()
    return edit, after
