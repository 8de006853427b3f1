"""The bridge from the pure ``reflectlab.analysis`` package to Trace columns."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import orjson

from reflectlab import analysis


@lru_cache(maxsize=64)
def _lexicon(overrides_json: str) -> analysis.Lexicon | None:
    """The project's lexicon (``analysis.project_lexicon``), cached per overrides."""
    return analysis.project_lexicon(orjson.loads(overrides_json))


def lexicon_for(overrides: dict[str, Any] | None) -> analysis.Lexicon | None:
    return _lexicon(orjson.dumps(overrides or {}, option=orjson.OPT_SORT_KEYS).decode())


# (kind, transition) of a labelled reflection → the Trace column counting it.
# Transitions exist only between two graded candidates; "" stands for none.
REFLECTION_COUNT_COLUMNS: dict[tuple[str, str], str] = {
    **{
        (kind, transition): f"n_{kind}_{suffix}"
        for kind in ("confirmatory", "corrective")
        for transition, suffix in (
            ("T→T", "tt"),
            ("F→F", "ff"),
            ("F→T", "ft"),
            ("T→F", "tf"),
            ("", "ungraded"),
        )
    },
    ("pre_answer", ""): "n_pre_answer",
    ("trailing", ""): "n_trailing",
}
_SMALLINT_MAX = 32767


def reflection_counts(reflections: Any) -> dict[str, int]:
    """Count stored ``analysis.reflections`` into the Trace's reflection columns."""
    counts = dict.fromkeys(REFLECTION_COUNT_COLUMNS.values(), 0)
    for reflection in reflections if isinstance(reflections, list) else ():
        if not isinstance(reflection, dict):
            continue
        kind, transition = reflection.get("kind"), reflection.get("transition") or ""
        column = REFLECTION_COUNT_COLUMNS.get((kind, transition)) or REFLECTION_COUNT_COLUMNS.get(
            (kind, "")
        )
        if column:
            counts[column] = min(counts[column] + 1, _SMALLINT_MAX)
    return counts


def chart_columns(data: dict[str, Any] | None) -> dict[str, Any]:
    """The dashboards' per-trace columns from a stored analysis (also the backfill's)."""
    data = data if isinstance(data, dict) else {}
    metrics = data.get("metrics") if isinstance(data.get("metrics"), dict) else {}
    position = metrics.get("first_candidate_position")
    return {
        "first_candidate_position": (
            float(position)
            if isinstance(position, int | float) and not isinstance(position, bool)
            else None
        ),
        **reflection_counts(data.get("reflections")),
    }


# The Trace fields ``analysis_columns`` fills (what a re-analysis updates).
ANALYSIS_FIELDS = (
    "analysis",
    "analyzer_version",
    "n_steps",
    "n_reflection_steps",
    "has_reflection",
    "has_corrective",
    "truncated",
    "final_answer",
    "final_correct",
    "first_correct",
    "outcome",
    "answer_reached_step",
    "reflection_share",
    "thinking_chars",
    "first_candidate_position",
    *REFLECTION_COUNT_COLUMNS.values(),
)


def analysis_columns(
    *,
    response: str,
    reasoning: str = "",
    reference: str = "",
    finish_reason: str = "",
    logprobs: list | None = None,
    lexicon_overrides: dict[str, Any] | None = None,
    known_final_correct: bool | None = None,
) -> dict[str, Any]:
    """Analyse one response and return the Trace fields that store the result."""
    result = analysis.analyze(
        response,
        reference=reference or None,
        reasoning=reasoning or None,
        finish_reason=finish_reason or None,
        logprobs=logprobs,
        lexicon=lexicon_for(lexicon_overrides),
    )
    data = analysis.to_dict(result)
    metrics = data["metrics"]
    steps = data["steps"]
    final_correct = (
        data["final_correct"] if data["final_correct"] is not None else known_final_correct
    )
    return {
        "analysis": data,
        "analyzer_version": data["version"],
        "n_steps": len(steps),
        "n_reflection_steps": metrics["reflection_steps"],
        "has_reflection": metrics["reflection_steps"] > 0,
        "has_corrective": any(r["kind"] == "corrective" for r in data["reflections"]),
        "truncated": data["truncated"],
        "final_answer": (data["final_answer"] or "")[:2000],
        "final_correct": final_correct,
        "first_correct": metrics["first_correct"],
        "outcome": outcome_column(metrics, final_correct=final_correct),
        "answer_reached_step": metrics.get("answer_reached_step"),
        "reflection_share": metrics["reflection_share"] or 0.0,
        "thinking_chars": sum(s["end"] - s["start"] for s in steps),
        **chart_columns(data),
    }


def outcome_column(metrics: dict[str, Any], *, final_correct: bool | None) -> str:
    """``metrics.outcome``, graded by imported correctness when there was no reference.

    An answer the analyser could not grade (no reference) but the import knew
    to be right or wrong reads as correct/wrong, as ``final_correct`` does.
    """
    outcome = metrics.get("outcome") or "ungraded"
    if outcome == "ungraded" and final_correct is not None:
        return "correct" if final_correct else "wrong"
    return outcome
