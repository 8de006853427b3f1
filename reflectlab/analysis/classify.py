"""Step kinds: reflection, transition, weak reflection, execution (DESIGN §4).

Each cue class is found by one regex scan over the whole (lower-cased) thinking,
and every hit is mapped to its step by bisection: the cost grows with the
number of cues found, not with steps x cues.

An ``opening`` cue ("Wait", "Oh", "Alternatively") in the first three steps and
before the thinking's first worked result ("5 * 3 = 15") reads the problem or picks a first method: there
is no earlier work to re-examine, so it does not count (lexicon 5).

A cue that belongs to a planning phrase ("to make sure I get all the
details", "Hmm, let's break this down") is not counted (lexicon ``planning``).

Priority, highest first (reflection beats transition, SEAL):
strong start cue > inline reflection cue, verdict sentence after arithmetic,
weak start cue whose first sentence doubts > "Alternatively" start > inline
transition cue > weak start cue. Within one rank the earliest cue in the step
is the one shown to the expert.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from functools import partial
from typing import NamedTuple

from reflectlab.analysis.lexicon import Lexicon

REFLECTION = "reflection"
TRANSITION = "transition"
WEAK_REFLECTION = "weak_reflection"
EXECUTION = "execution"
VERIFICATION = "verification"

_STRONG, _INLINE_REFLECTION, _TRANSITION_START, _INLINE_TRANSITION, _WEAK = 5, 4, 3, 2, 1
_KIND_OF_RANK = {
    _STRONG: REFLECTION,
    _INLINE_REFLECTION: REFLECTION,
    _TRANSITION_START: TRANSITION,
    _INLINE_TRANSITION: TRANSITION,
    _WEAK: WEAK_REFLECTION,
}
_REFLECTIVE = frozenset((REFLECTION, TRANSITION))
_START_RANK = {"strong": _STRONG, "transition": _TRANSITION_START, "weak": _WEAK}
_SENTENCE_END_RE = re.compile(r"[.!?](?:\s|$)")
_DIGIT_RE = re.compile(r"\d")
# A result of work: "<number> =", "= <number>", "<number> is/are/equals <number>"
# or a boxed answer.
_WORKED_RE = re.compile(r"\\boxed|\d\s*=|=\s*-?\$?\d|\d\s+(?:is|are|equals)[\s.…]*-?\$?\d")
# Only the opening steps can precede all earlier work (lexicon ``opening``):
# later on, a long interpretation without a number is work to re-examine.
_OPENING_STEPS = 3
# "Wait, no, …" negates what the model itself just wrote: a correction, even early.
_NEGATES_RE = re.compile(r"[,.!]?\s*no\b")


class Step(NamedTuple):
    """One step. A NamedTuple, not a dataclass: traces have hundreds of steps
    and a tuple is built three times faster than a frozen dataclass (DESIGN §11)."""

    index: int
    start: int
    end: int
    kind: str
    cue: str | None = None
    cue_start: int | None = None
    cue_end: int | None = None
    subtype: str | None = None

    @property
    def is_reflective(self) -> bool:
        return self.kind in _REFLECTIVE


# tuple.__new__ runs in C; Step._make is a Python-level wrapper around it.
_new_step = partial(tuple.__new__, Step)

# (rank, cue_start, cue_end) of the best cue seen so far, per step index.
_Best = dict[int, tuple[int, int, int]]


def _first_worked(lower: str, starts: list[int], ends: list[int]) -> int:
    """Offset of the thinking's first result of work, or the end of the opening
    steps when that comes first."""
    hi = ends[min(len(ends), _OPENING_STEPS) - 1]
    m = _WORKED_RE.search(lower, starts[0], hi)
    return m.start() if m else hi


def _opening(lexicon: Lexicon, lower: str, cue: str, s: int, worked: int) -> bool:
    """Whether ``cue`` at ``s`` is an ``opening`` cue before any worked result:
    it reads the problem or picks a first method, with nothing to re-examine."""
    return (
        s < worked
        and _squash(cue) in lexicon.opening_cues
        and not _NEGATES_RE.match(lower, s + len(cue))
    )


def _keep(best: _Best, i: int, rank: int, s: int, e: int) -> None:
    old = best.get(i)
    if old is None or rank > old[0] or (rank == old[0] and s < old[1]):
        best[i] = (rank, s, e)


def _start_cues(
    lower: str, starts: list[int], ends: list[int], lexicon: Lexicon, best: _Best, worked: int
) -> None:
    first = lexicon.start_re.match(lower, starts[0])
    hits = [(0, first)] if first and first.lastgroup else []
    step_at = dict(zip(starts, range(len(starts)), strict=True))
    for m in lexicon.start_after_break_re.finditer(lower, starts[0], ends[-1]):
        i = step_at.get(m.start("lead"))
        if i is not None:  # None: a blank line inside a protected block
            hits.append((i, m))
    for i, m in hits:
        group = m.lastgroup or ""
        rank = _START_RANK[group.removeprefix("b_")]
        s, e = m.span(group)
        if rank == _STRONG and lexicon.is_planning(
            lower, _squash(lower[s:e]), s, e, at_step_start=True
        ):
            continue
        if rank != _WEAK and _opening(lexicon, lower, lower[s:e], s, worked):
            continue
        if rank == _WEAK and _doubts(lower, e, ends[i], lexicon):
            rank = _INLINE_REFLECTION
        _keep(best, i, rank, s, e)


def _doubts(lower: str, start: int, end: int, lexicon: Lexicon) -> bool:
    """Whether the sentence from ``start`` holds a ``doubt`` word ("But … is wrong")."""
    stop = _SENTENCE_END_RE.search(lower, start, end)
    return lexicon.doubt_re.search(lower, start, stop.end() if stop else end) is not None


def _verdict_cues(
    lower: str, starts: list[int], ends: list[int], lexicon: Lexicon, best: _Best
) -> None:
    """A verdict sentence after arithmetic in its step ("120 + 9 = 129. Correct.")."""
    for m in lexicon.verdict_re.finditer(lower, starts[0], ends[-1]):
        s, e = m.span("cue")
        i = bisect_right(starts, s) - 1
        if e <= ends[i] and _DIGIT_RE.search(lower, starts[i], s):
            _keep(best, i, _INLINE_REFLECTION, s, e)


def _inline_cues(
    lower: str,
    starts: list[int],
    ends: list[int],
    lexicon: Lexicon,
    best: _Best,
    split_points: list[int] | None,
    worked: int,
) -> set[int]:
    """Record inline cues; return the steps holding a verification cue."""
    lo, hi = starts[0], ends[-1]
    classes_of = lexicon.inline_classes
    head = lexicon.inline_at_start_re.match(lower, lo, hi)
    matches = [head] if head else []
    matches.extend(lexicon.inline_after_space_re.finditer(lower, lo, hi))
    matches.extend(lexicon.inline_after_newline_re.finditer(lower, lo, hi))
    verifying: set[int] = set()
    for m in matches:
        s, e = m.span("cue")
        i = bisect_right(starts, s) - 1
        if e > ends[i]:
            continue
        cue = m["cue"]
        classes = classes_of[cue]
        if lexicon.is_planning(lower, cue, s, e, at_step_start=False):
            continue
        if "anywhere" in classes:
            _keep(best, i, _INLINE_REFLECTION, s, e)
        elif "transition_anywhere" in classes and not _opening(lexicon, lower, cue, s, worked):
            _keep(best, i, _INLINE_TRANSITION, s, e)
        if "verification" in classes:
            verifying.add(i)
    for m in lexicon.sentence_start_re.finditer(lower, lo, hi):
        s, e = m.span("cue")
        i = bisect_right(starts, s) - 1
        if e <= ends[i] and not _opening(lexicon, lower, m["cue"], s, worked):
            _keep(best, i, _INLINE_REFLECTION, s, e)
            if split_points is not None:
                split_points.append(s)
    return verifying


def _squash(cue: str) -> str:
    return " ".join(cue.split())


def classify_steps(
    text: str,
    lower: str,
    starts: list[int],
    ends: list[int],
    lexicon: Lexicon,
    split_points: list[int] | None = None,
) -> list[Step]:
    """Classify the steps ``text[starts[i]:ends[i]]``; ``lower`` is ``text.lower()``.

    ``split_points``, when given, receives the offsets where a sentence inside
    a step opens with a ``sentence_start`` cue ("… = 4. Wait, that's off."):
    the places an annotator most often splits a step, offered in the UI.
    """
    n = len(starts)
    if n == 0:
        return []
    best: _Best = {}
    worked = _first_worked(lower, starts, ends) if lexicon.opening else -1
    _start_cues(lower, starts, ends, lexicon, best, worked)
    verifying = _inline_cues(lower, starts, ends, lexicon, best, split_points, worked)
    _verdict_cues(lower, starts, ends, lexicon, best)
    kinds = [EXECUTION] * n
    cues: list[str | None] = [None] * n
    cue_starts: list[int | None] = [None] * n
    cue_ends: list[int | None] = [None] * n
    subtypes: list[str | None] = [None] * n
    for i, (rank, s, e) in best.items():
        kinds[i] = kind = _KIND_OF_RANK[rank]
        cues[i], cue_starts[i], cue_ends[i] = text[s:e], s, e
        if kind is REFLECTION and i in verifying:
            subtypes[i] = VERIFICATION
    rows = zip(range(n), starts, ends, kinds, cues, cue_starts, cue_ends, subtypes, strict=True)
    return list(map(_new_step, rows))


def reflective_indices(steps: list[Step]) -> list[int]:
    return [s.index for s in steps if s.kind is REFLECTION or s.kind is TRANSITION]


def episodes(reflective: list[int]) -> list[tuple[int, int]]:
    """Runs of consecutive reflective step indices as (first, last)."""
    runs: list[tuple[int, int]] = []
    for i in reflective:
        if runs and runs[-1][1] == i - 1:
            runs[-1] = (runs[-1][0], i)
        else:
            runs.append((i, i))
    return runs
