"""The bridge from the pure ``reflectlab.analysis`` package to Trace columns."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import orjson

from reflectlab import analysis


@lru_cache(maxsize=64)
def _lexicon(overrides_json: str) -> analysis.Lexicon | None:
    overrides = orjson.loads(overrides_json)
    return (
        analysis.Lexicon.from_dict(overrides, base=analysis.Lexicon.default())
        if overrides
        else None
    )


def lexicon_for(overrides: dict[str, Any] | None) -> analysis.Lexicon | None:
    return _lexicon(orjson.dumps(overrides or {}, option=orjson.OPT_SORT_KEYS).decode())


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
    "reflection_share",
    "thinking_chars",
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
    return {
        "analysis": data,
        "analyzer_version": data["version"],
        "n_steps": len(steps),
        "n_reflection_steps": metrics["reflection_steps"],
        "has_reflection": metrics["reflection_steps"] > 0,
        "has_corrective": any(r["kind"] == "corrective" for r in data["reflections"]),
        "truncated": data["truncated"],
        "final_answer": (data["final_answer"] or "")[:2000],
        "final_correct": (
            data["final_correct"] if data["final_correct"] is not None else known_final_correct
        ),
        "first_correct": metrics["first_correct"],
        "reflection_share": metrics["reflection_share"] or 0.0,
        "thinking_chars": sum(s["end"] - s["start"] for s in steps),
    }
