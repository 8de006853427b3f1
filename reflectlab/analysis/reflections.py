"""Confirmatory vs corrective reflections (First Try Matters, DESIGN §4).

For consecutive candidates cᵢ, cᵢ₊₁ with reflection or transition steps between
them, the reflection is *confirmatory* when cᵢ₊₁ is equivalent to cᵢ and
*corrective* otherwise; with a reference it also carries the correctness
transition T→T, F→F, F→T (a successful correction) or T→F (a harmful one).
Reflective steps before the first candidate are *pre_answer*; after the last
candidate, with none following, *trailing*.

Candidates of the answer section sit after every thinking step, so a
"Wait, let me double-check" just before ``</think>`` is judged by the answer
that follows it.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass

from reflectlab.analysis.answers import Candidate
from reflectlab.analysis.grade import equivalent

CONFIRMATORY = "confirmatory"
CORRECTIVE = "corrective"
PRE_ANSWER = "pre_answer"
TRAILING = "trailing"


@dataclass(frozen=True, slots=True)
class Reflection:
    kind: str
    steps: tuple[int, ...]
    from_candidate: int | None = None
    to_candidate: int | None = None
    transition: str | None = None


def _mark(correct: bool | None) -> str | None:
    return None if correct is None else ("T" if correct else "F")


def same_answer(a: str, b: str) -> bool:
    """Equivalence of two candidate values; unknown falls back to spelling."""
    verdict = equivalent(a, b)
    if verdict is None:
        return "".join(a.split()) == "".join(b.split())
    return verdict


def _between(reflective: list[int], lo: int, hi: int) -> tuple[int, ...]:
    """Reflective step indices in the half-open interval (lo, hi]."""
    return tuple(reflective[bisect_right(reflective, lo) : bisect_right(reflective, hi)])


def label_reflections(
    candidates: list[Candidate], reflective: list[int], n_steps: int
) -> list[Reflection]:
    """``reflective``: sorted indices of reflection/transition steps."""
    if not reflective:
        return []
    # Answer-section candidates (step None) count as lying after the last step.
    positions = [n_steps if c.step is None else c.step for c in candidates]
    if not candidates:
        return [Reflection(PRE_ANSWER, tuple(reflective))]
    out = []
    before = tuple(reflective[: bisect_left(reflective, positions[0])])
    if before:
        out.append(Reflection(PRE_ANSWER, before, None, 0))
    for i in range(len(candidates) - 1):
        steps = _between(reflective, positions[i], positions[i + 1])
        if not steps:
            continue
        a, b = candidates[i], candidates[i + 1]
        kind = CONFIRMATORY if same_answer(a.value, b.value) else CORRECTIVE
        ma, mb = _mark(a.correct), _mark(b.correct)
        transition = f"{ma}→{mb}" if ma and mb else None
        out.append(Reflection(kind, steps, i, i + 1, transition))
    after = _between(reflective, positions[-1], n_steps)
    if after:
        out.append(Reflection(TRAILING, after, len(candidates) - 1, None))
    return out
