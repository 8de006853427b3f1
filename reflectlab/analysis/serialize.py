"""``to_dict``: the compact JSON-ready form stored with every trace.

No step text is stored: offsets point into the trace's own response (or its
reasoning field, see ``extraction.source``), which is kept byte-for-byte.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from reflectlab.analysis.answers import Candidate
from reflectlab.analysis.result import TraceAnalysis

_ROUND = 4


def _candidate(c: Candidate) -> dict[str, Any]:
    return {
        "step": c.step,
        "start": c.start,
        "end": c.end,
        "value": c.value,
        "correct": c.correct,
        "kind": c.kind,
    }


def _rounded(value: Any) -> Any:
    return round(value, _ROUND) if isinstance(value, float) else value


def to_dict(analysis: TraceAnalysis) -> dict[str, Any]:
    ext = analysis.extraction
    step_keys = ("index", "start", "end", "kind", "cue", "cue_start", "cue_end", "subtype")
    out: dict[str, Any] = {
        "version": analysis.version,
        "truncated": ext.truncated,
        "extraction": {
            "source": ext.source,
            "think_start": ext.think_start,
            "think_end": ext.think_end,
            "answer_start": ext.answer_start,
        },
        "final_answer": analysis.final_answer.value if analysis.final_answer else None,
        "final_correct": analysis.final_correct,
        "steps": [dict(zip(step_keys, step, strict=True)) for step in analysis.steps],
        "episodes": [list(run) for run in analysis.episodes],
        "candidates": [_candidate(c) for c in analysis.candidates],
        "tentative": [_candidate(c) for c in analysis.tentative],
        "reflections": [
            {
                "kind": r.kind,
                "transition": r.transition,
                "from_candidate": r.from_candidate,
                "to_candidate": r.to_candidate,
                "steps": list(r.steps),
            }
            for r in analysis.reflections
        ],
        "metrics": {k: _rounded(v) for k, v in asdict(analysis.metrics).items()},
        "split_points": list(analysis.split_points),
    }
    if analysis.grading:  # e.g. {"timed_out": 1}: those grades are unknown, not wrong
        out["grading"] = dict(sorted(analysis.grading.items()))
    if analysis.uncertainty is not None:
        u = analysis.uncertainty
        out["uncertainty"] = {
            "entropy": [round(h, 3) for h in u.entropies],
            "flagged": list(u.flagged),
            "mean_entropy": _rounded(u.mean_entropy),
        }
    return out
