"""The one validator of annotation fields, for annotators' saves and reviewers' edits.

Every bound comes from the trace or its project, so a value that passes here
is one every export can place: a step label or first error past the trace's
last step would silently drop the row from the ``stepwise`` export, a category
or principle the project does not list would fall outside its codebook.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError

from reflectlab.annotations.models import Annotation

if TYPE_CHECKING:
    from reflectlab.projects.models import Project
    from reflectlab.traces.models import Trace

# The judgement fields; ``branch_id`` is set by the regenerate service only.
ANNOTATION_FIELDS = (
    "step_labels",
    "first_error_step",
    "error_category",
    "hint",
    "hint_step",
    "critique",
    "verdict",
    "violated_principles",
)
TEXT_FIELDS = ("error_category", "hint", "critique")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _step_labels(value: Any, n_steps: int) -> dict[str, int] | None:
    """Labels keyed by step index as text, or None when malformed or out of range."""
    if not isinstance(value, dict):
        return None
    labels: dict[str, int] = {}
    for step, label in value.items():
        if not str(step).isdigit() or int(step) >= n_steps:
            return None
        if not _is_int(label) or label not in (-1, 0, 1):
            return None
        labels[str(int(step))] = label
    return labels


def annotation_fields_validate(
    *,
    changes: dict[str, Any],
    trace: Trace,
    project: Project,
    allowed: tuple[str, ...] = ANNOTATION_FIELDS,
) -> dict[str, Any]:
    """Check ``changes`` against ``trace`` and ``project``; return them normalised.

    Raises ``ValidationError`` with one message per bad field (and one for
    fields outside ``allowed``); nothing is written by the caller then.
    """
    unknown = set(changes) - set(allowed)
    if unknown:
        raise ValidationError(f"Not editable: {', '.join(sorted(unknown))}.")
    n_steps = trace.n_steps
    clean = dict(changes)
    errors: dict[str, str] = {}
    if "step_labels" in changes:
        labels = _step_labels(changes["step_labels"], n_steps)
        if labels is None:
            errors["step_labels"] = (
                f"Step labels map step indexes (0 to {n_steps - 1}) to +1, 0 or -1."
            )
        else:
            clean["step_labels"] = labels
    first = changes.get("first_error_step")
    if first is not None and (not _is_int(first) or not -1 <= first < n_steps):
        errors["first_error_step"] = (
            f"First error must be a step of this trace (0 to {n_steps - 1}), or -1 (none)."
        )
    hint_step = changes.get("hint_step")
    if hint_step is not None and (not _is_int(hint_step) or not 0 <= hint_step < n_steps):
        errors["hint_step"] = "The hint must sit at a step of this trace."
    for name in TEXT_FIELDS:
        if name in changes and not isinstance(changes[name], str):
            errors[name] = f"{name} must be text."
    category = changes.get("error_category")
    if isinstance(category, str) and category and category not in (project.error_categories or []):
        errors["error_category"] = "Choose one of the project's error categories."
    if "verdict" in changes and changes["verdict"] not in Annotation.Verdict.values:
        errors["verdict"] = "Verdict must be correct, incorrect or empty."
    if "violated_principles" in changes:
        principles = changes["violated_principles"]
        if not isinstance(principles, list) or any(
            not isinstance(p, str) or p not in (project.principles or []) for p in principles
        ):
            errors["violated_principles"] = "Only the project's principles can be checked."
    if errors:
        raise ValidationError(errors)
    return clean
