"""Per-trace metrics (DESIGN §4)."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

from reflectlab.analysis.answers import Candidate
from reflectlab.analysis.classify import REFLECTION, TRANSITION, WEAK_REFLECTION, Step
from reflectlab.analysis.reflections import CONFIRMATORY, CORRECTIVE, Reflection, same_answer


@dataclass(frozen=True, slots=True)
class Metrics:
    steps: int
    reflection_steps: int
    transition_steps: int
    weak_reflection_steps: int
    episodes: int
    # Share of the thinking characters inside reflection or transition steps.
    reflection_share: float
    # Where the first candidate starts, as a fraction of the thinking (First Try Matters).
    first_candidate_position: float | None
    answer_changes: int
    confirmatory: int
    corrective: int
    first_correct: bool | None
    final_correct: bool | None
    truncated: bool
    # Share of the thinking after the first correct candidate: the waste that
    # First Try Matters, CGRS and ARLCP set out to cut.
    overthinking_tail: float | None
    # Step of the first correct candidate in the thinking (else of the first
    # correct tentative "so … = X"): a truncated trace may have reached the
    # reference answer long before it ran out of tokens.
    answer_reached_step: int | None
    # One word for how the trace ended (see ``outcome_of``).
    outcome: str


CORRECT, WRONG, TRUNCATED_NO_ANSWER, NO_ANSWER, UNGRADED = (
    "correct",
    "wrong",
    "truncated_no_answer",
    "no_answer",
    "ungraded",
)
OUTCOMES = (CORRECT, WRONG, TRUNCATED_NO_ANSWER, NO_ANSWER, UNGRADED)


def outcome_of(*, has_final: bool, final_correct: bool | None, truncated: bool) -> str:
    """How a trace ended, keeping truncation apart from a wrong answer.

    A trace cut by its token limit before it answered is ``truncated_no_answer``
    rather than ``wrong`` (it never committed to an answer); ``final_correct``
    stays False for it, as the review queue has always treated it.
    """
    if not has_final:
        return TRUNCATED_NO_ANSWER if truncated else NO_ANSWER
    if final_correct is None:
        return UNGRADED
    return CORRECT if final_correct else WRONG


def _changes(candidates: list[Candidate]) -> int:
    return sum(1 for a, b in pairwise(candidates) if not same_answer(a.value, b.value))


def compute_metrics(
    *,
    steps: list[Step],
    reflective: list[int],
    n_episodes: int,
    candidates: list[Candidate],
    reflections: list[Reflection],
    final_correct: bool | None,
    has_final: bool,
    tentative_reached_step: int | None = None,
    truncated: bool,
    think_start: int,
    think_end: int,
) -> Metrics:
    kinds = [step.kind for step in steps]
    total_chars = sum(step.end for step in steps) - sum(step.start for step in steps)
    reflective_chars = sum(steps[i].end - steps[i].start for i in reflective)
    thinking = [c for c in candidates if c.step is not None]
    span = max(think_end - think_start, 1)
    first_position = (thinking[0].start - think_start) / span if thinking else None
    first_right = next((c for c in thinking if c.correct), None)
    labels = [r.kind for r in reflections]
    return Metrics(
        steps=len(steps),
        reflection_steps=kinds.count(REFLECTION),
        transition_steps=kinds.count(TRANSITION),
        weak_reflection_steps=kinds.count(WEAK_REFLECTION),
        episodes=n_episodes,
        reflection_share=reflective_chars / total_chars if total_chars else 0.0,
        first_candidate_position=first_position,
        answer_changes=_changes(candidates),
        confirmatory=labels.count(CONFIRMATORY),
        corrective=labels.count(CORRECTIVE),
        first_correct=candidates[0].correct if candidates else None,
        final_correct=final_correct,
        truncated=truncated,
        overthinking_tail=(think_end - first_right.end) / span if first_right else None,
        answer_reached_step=first_right.step if first_right else tentative_reached_step,
        outcome=outcome_of(has_final=has_final, final_correct=final_correct, truncated=truncated),
    )
