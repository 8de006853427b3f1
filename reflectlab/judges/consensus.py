"""Folding several samples of one judge on one trace into one suggestion
(pure Python, no Django).

Self-consistency (Wang et al., 2023): the suggested value is the mode of the
parsed samples; its confidence is the share of *all* samples that agree with
it, so an unparseable sample counts against the confidence rather than
vanishing. Ties between modes go to the earliest step (the conservative reading:
an annotator sent to an earlier step reads the later ones anyway); -1 ("no
error") loses ties to any step.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Consensus:
    parsed: bool
    samples: int
    samples_parsed: int
    confidence: float | None = None
    first_error: int | None = None
    labels: dict[str, int] = field(default_factory=dict)
    verdict: str = ""
    critique: str = ""
    hint: str = ""
    hint_step: int | None = None


def _mode(values: list[Any], *, key=None) -> tuple[Any, int]:
    counts = Counter(values)
    best = max(counts.values())
    tied = [v for v, n in counts.items() if n == best]
    return min(tied, key=key) if key else tied[0], best


def _step_order(value: int) -> tuple[int, int]:
    return (1, 0) if value == -1 else (0, value)


def fold(kind: str, samples: list[dict[str, Any]]) -> Consensus:
    """``samples``: each ``{"ok": bool, **Parsed.to_dict()}`` for one sample."""
    total = len(samples)
    good = [s for s in samples if s.get("ok")]
    out = Consensus(parsed=bool(good), samples=total, samples_parsed=len(good))
    if not good:
        return out
    if kind == "step_labels":
        columns = list(zip(*(s["labels"] for s in good), strict=False))
        shares = []
        for i, column in enumerate(columns):
            label, n = _mode(list(column), key=lambda v: v)  # ties: the lower (bad first)
            out.labels[str(i)] = label
            shares.append(n / total)
        out.confidence = sum(shares) / len(shares) if shares else 0.0
        out.first_error = next((int(i) for i, v in out.labels.items() if v == -1), -1)
        return out
    if kind == "critique":
        verdict, n = _mode([s["verdict"] for s in good], key=lambda v: v != "incorrect")
        out.verdict, out.confidence = verdict, n / total
        agreeing = [s for s in good if s["verdict"] == verdict]
        out.critique = agreeing[0].get("critique", "")
        steps = [s["first_error"] for s in agreeing if s.get("first_error") is not None]
        if steps:
            out.first_error = _mode(steps, key=_step_order)[0]
        return out
    steps = [s.get("first_error") for s in good]
    known = [v for v in steps if v is not None]
    if not known:  # a hint without a step
        out.hint = good[0].get("hint", "")
        out.confidence = len(good) / total
        return out
    step, n = _mode(known, key=_step_order)
    out.first_error, out.confidence = step, n / total
    if kind == "hint":
        chosen = next(s for s in good if s.get("first_error") == step)
        out.hint, out.hint_step = chosen.get("hint", ""), step if step >= 0 else None
    return out
