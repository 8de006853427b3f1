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
from reflectlab.annotations.step_edits import trace_steps

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
    "step_reasons",
    "replacement_step",
    "replacement_alternatives",
    "flawed_process",
    "exit_reason",
    "reflection_quality",
)
TEXT_FIELDS = ("error_category", "hint", "critique", "replacement_step")
MAX_REASON_CHARS = 2_000
MAX_STEP_CHARS = 20_000
MAX_ALTERNATIVES = 10


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


def _reasons(value: Any, n_steps: int, labels: dict[str, int] | None) -> dict[str, str] | None:
    """Reasons keyed by step index, each on a step labelled -1 (when the labels are known)."""
    if not isinstance(value, dict):
        return None
    reasons: dict[str, str] = {}
    for step, reason in value.items():
        if not str(step).isdigit() or int(step) >= n_steps:
            return None
        if not isinstance(reason, str) or len(reason) > MAX_REASON_CHARS:
            return None
        if labels is not None and labels.get(str(int(step))) != -1:
            return None
        if reason.strip():
            reasons[str(int(step))] = reason.strip()
    return reasons


def _quality(value: Any, n_episodes: int) -> dict[str, dict] | None:
    """DeltaBench labels keyed by the analysis' episode index."""
    if not isinstance(value, dict):
        return None
    out: dict[str, dict] = {}
    for episode, entry in value.items():
        if not str(episode).isdigit() or int(episode) >= n_episodes or not isinstance(entry, dict):
            return None
        quality = entry.get("quality", "")
        shift = entry.get("strategy_shift", False)
        if set(entry) - {"quality", "strategy_shift"} or not isinstance(shift, bool):
            return None
        if quality not in ("", *Annotation.Quality.values):
            return None
        if quality or shift:
            out[str(int(episode))] = {"quality": quality, "strategy_shift": shift}
    return out


def _alternatives(value: Any) -> list[str] | None:
    if not isinstance(value, list) or len(value) > MAX_ALTERNATIVES:
        return None
    if any(not isinstance(v, str) or len(v) > MAX_STEP_CHARS for v in value):
        return None
    return [v.strip() for v in value if v.strip()]


def annotation_fields_validate(
    *,
    changes: dict[str, Any],
    trace: Trace,
    project: Project,
    allowed: tuple[str, ...] = ANNOTATION_FIELDS,
    annotation: Annotation | None = None,
) -> dict[str, Any]:
    """Check ``changes`` against ``trace`` and ``project``; return them normalised.

    Step bounds are those of the steps annotators see (the analysis with the
    trace's split/merge edits). ``annotation``, when given, supplies the
    current labels for checks that span fields (a reason needs a -1 label).
    Raises ``ValidationError`` with one message per bad field (and one for
    fields outside ``allowed``); nothing is written by the caller then.
    """
    unknown = set(changes) - set(allowed)
    if unknown:
        raise ValidationError(f"Not editable: {', '.join(sorted(unknown))}.")
    n_steps = len(trace_steps(trace=trace))
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
    _judgements(changes, clean, errors, trace=trace, n_steps=n_steps, annotation=annotation)
    if errors:
        raise ValidationError(errors)
    return clean


def _judgements(
    changes: dict[str, Any],
    clean: dict[str, Any],
    errors: dict[str, str],
    *,
    trace: Trace,
    n_steps: int,
    annotation: Annotation | None,
) -> None:
    """The step-level judgements of issue 14: reasons, replacement, exit, reflection quality."""
    if "step_reasons" in changes:
        labels = clean.get("step_labels") if "step_labels" in changes else None
        if labels is None and annotation is not None:
            labels = annotation.step_labels or {}
        reasons = _reasons(changes["step_reasons"], n_steps, labels)
        if reasons is None:
            errors["step_reasons"] = (
                f"A reason belongs to a step labelled -1 and is text of at most "
                f"{MAX_REASON_CHARS} characters."
            )
        else:
            clean["step_reasons"] = reasons
    replacement = changes.get("replacement_step")
    if isinstance(replacement, str) and len(replacement) > MAX_STEP_CHARS:
        errors["replacement_step"] = f"At most {MAX_STEP_CHARS} characters."
    if "replacement_alternatives" in changes:
        alternatives = _alternatives(changes["replacement_alternatives"])
        if alternatives is None:
            errors["replacement_alternatives"] = (
                f"Up to {MAX_ALTERNATIVES} alternative steps, as text, best first."
            )
        else:
            clean["replacement_alternatives"] = alternatives
    if "flawed_process" in changes and not isinstance(changes["flawed_process"], bool):
        errors["flawed_process"] = "flawed_process is true or false."
    if "exit_reason" in changes and changes["exit_reason"] not in Annotation.ExitReason.values:
        errors["exit_reason"] = "Exit reason: bad_problem, ambiguous_reference, give_up or empty."
    if "reflection_quality" in changes:
        n_episodes = len((trace.analysis or {}).get("episodes") or [])
        quality = _quality(changes["reflection_quality"], n_episodes)
        if quality is None:
            errors["reflection_quality"] = (
                "Reflection quality maps an episode of this trace to effective, "
                "ineffective or harmful and a strategy_shift flag."
            )
        else:
            clean["reflection_quality"] = quality
