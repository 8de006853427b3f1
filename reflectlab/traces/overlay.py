"""Step edits: annotators' splits and merges laid over the analysed steps.

The stored analysis is never rewritten. An edit is a list of ``splits``
(offsets into ``Trace.step_text`` where a new step starts inside an analysed
one — a mid-paragraph "Wait a second.") and ``merges`` (start offsets of
steps joined to the step before them). ``edited_steps`` applies them to the
analysis' steps; ``step_map`` tells, for every step before an edit, which
steps it became, so annotations (labels, first error, hint step, reasons)
follow their text. Plain Python, no database: exports and the workspace
share it.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from typing import Any

# Stronger kinds win when two steps merge, so a highlight never disappears.
KIND_RANK = {"reflection": 3, "transition": 2, "weak_reflection": 1, "execution": 0}
# A sentence starts after . ! ? (or a closing bracket/quote after them) and white space.
SENTENCE_START = re.compile(r"[.!?][)\]\"']*\s+(?=\S)")


def _holds_cue(step: dict[str, Any], start: int, end: int) -> bool:
    cue = step.get("cue_start")
    return cue is not None and start <= cue < end


def _kind(step: dict[str, Any], start: int, end: int, k: int, strong: set[int]) -> str:
    """The kind of piece ``k`` of a split step.

    The piece holding the step's matched cue keeps the step's kind (a
    mid-paragraph "Wait" made the whole paragraph a reflection; after the
    split only its half is). A piece starting at a strong-cue split point is
    a reflection; the first piece keeps the kind when the cue is unknown.
    """
    if _holds_cue(step, start, end):
        return step.get("kind") or "execution"
    if start in strong:
        return "reflection"
    if k == 0 and step.get("cue_start") is None:
        return step.get("kind") or "execution"
    return "execution"


def _piece(step: dict[str, Any], start: int, end: int, *, kind: str) -> dict:
    piece = {"start": start, "end": end, "kind": kind, "source": step["index"]}
    if _holds_cue(step, start, end):
        for key in ("cue", "cue_start", "cue_end", "subtype"):
            piece[key] = step.get(key)
    return piece


def edited_steps(
    steps: list[dict[str, Any]],
    text: str,
    *,
    splits: list[int] | tuple[int, ...] = (),
    merges: list[int] | tuple[int, ...] = (),
    strong: list[int] | tuple[int, ...] = (),
) -> list[dict[str, Any]]:
    """The analysed ``steps`` with ``splits`` and ``merges`` applied.

    A split's second half is a reflection when the offset is one of the
    analysis' strong-cue split points (``strong``), else execution; the first
    half keeps the step's kind and its cue when the cue lies in it. A merged
    step keeps the stronger kind of the two. Every step records ``source``,
    the analysed step it starts in.
    """
    cuts = sorted(set(splits))
    strong_set = set(strong)
    out: list[dict[str, Any]] = []
    for i, step in enumerate(steps):
        step = {**step, "index": step.get("index", i)}
        a, b = step["start"], step["end"]
        lo = bisect_right(cuts, a)
        inner = [o for o in cuts[lo:] if o < b]
        bounds = [a, *inner]
        for k, start in enumerate(bounds):
            end = bounds[k + 1] if k + 1 < len(bounds) else b
            end = start + len(text[start:end].rstrip())
            if end <= start:
                continue
            out.append(_piece(step, start, end, kind=_kind(step, start, end, k, strong_set)))
    joined = set(merges)
    merged: list[dict[str, Any]] = []
    for piece in out:
        if merged and piece["start"] in joined:
            prev = merged[-1]
            prev["end"] = piece["end"]
            if KIND_RANK.get(piece["kind"], 0) > KIND_RANK.get(prev["kind"], 0):
                prev["kind"] = piece["kind"]
                for key in ("cue", "cue_start", "cue_end", "subtype"):
                    prev[key] = piece.get(key)
            continue
        merged.append(piece)
    for i, piece in enumerate(merged):
        piece["index"] = i
    return merged


def step_map(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[list[int]]:
    """For every step of ``old``, the indexes of the ``new`` steps overlapping its text."""
    starts = [s["start"] for s in new]
    mapping: list[list[int]] = []
    for s in old:
        j = max(bisect_right(starts, s["start"]) - 1, 0)
        hits = []
        while j < len(new) and new[j]["start"] < s["end"]:
            if new[j]["end"] > s["start"]:
                hits.append(j)
            j += 1
        mapping.append(hits)
    return mapping


def index_at(steps: list[dict[str, Any]] | StepStarts, offset: int) -> int | None:
    """The index of the step containing ``offset`` (or the last one before it).

    Pass ``StepStarts(steps)`` when looking up many offsets in the same steps.
    """
    starts = steps if isinstance(steps, StepStarts) else [s["start"] for s in steps]
    i = bisect_right(starts, offset) - 1
    return i if i >= 0 else None


class StepStarts(list):
    """The start offsets of ``steps``, computed once for repeated ``index_at``."""

    def __init__(self, steps: list[dict[str, Any]]):
        super().__init__(s["start"] for s in steps)


def remap_annotation(fields: dict[str, Any], mapping: list[list[int]]) -> dict[str, Any]:
    """The step-indexed fields of an annotation after an edit.

    A split step's label (and reason) goes to both halves; a merge keeps the
    worst label of the steps it joins (PRM800K: one bad sentence makes the
    step bad) and their reasons together. The first error and the hint step
    move to the first step their old step became.
    """

    def first(i: int | None) -> int | None:
        if i is None or i < 0:
            return i  # unset, or -1: "no error"
        return mapping[i][0] if i < len(mapping) and mapping[i] else None

    labels: dict[str, int] = {}
    for key, value in (fields.get("step_labels") or {}).items():
        for j in mapping[int(key)] if int(key) < len(mapping) else []:
            labels[str(j)] = min(value, labels.get(str(j), value))
    reasons: dict[str, str] = {}
    for key, value in (fields.get("step_reasons") or {}).items():
        for j in mapping[int(key)] if int(key) < len(mapping) else []:
            reasons[str(j)] = f"{reasons[str(j)]}\n{value}" if str(j) in reasons else value
    reasons = {k: v for k, v in reasons.items() if labels.get(k) == -1}
    return {
        "step_labels": labels,
        "step_reasons": reasons,
        "first_error_step": first(fields.get("first_error_step")),
        "hint_step": first(fields.get("hint_step")),
    }


def sentence_starts(text: str, start: int, end: int) -> list[int]:
    """Offsets in ``text[start:end]`` where a sentence begins (split candidates)."""
    return [m.end() for m in SENTENCE_START.finditer(text, start, end) if m.end() < end]


def sections(steps: list[dict[str, Any]]) -> list[tuple[int, int]]:
    """Steps grouped for section mode: each reflection/transition episode is one
    section, and so is each run of steps between episodes (DeltaBench labels
    long traces section by section)."""
    out: list[tuple[int, int]] = []
    start = 0
    for i in range(1, len(steps) + 1):
        if i == len(steps) or _in_episode(steps[i]) != _in_episode(steps[i - 1]):
            out.append((start, i - 1))
            start = i
    return out


def _in_episode(step: dict[str, Any]) -> bool:
    return step.get("kind") in {"reflection", "transition"}


def episode_span(
    analysed: list[dict[str, Any]],
    shown: list[dict[str, Any]] | StepStarts,
    first: int,
    last: int,
) -> tuple[int, int] | None:
    """The shown steps of the analysis' episode ``[first, last]``.

    It starts at the step holding the first step's cue (after a split, the
    half that reflects) and ends at the step holding the last one's end.
    """
    if not (0 <= first <= last < len(analysed)):
        return None
    starts = shown if isinstance(shown, StepStarts) else StepStarts(shown)
    start = analysed[first].get("cue_start")
    a = index_at(starts, analysed[first]["start"] if start is None else start)
    b = index_at(starts, max(analysed[last]["end"] - 1, analysed[last]["start"]))
    return (a, b) if a is not None and b is not None and a <= b else None
