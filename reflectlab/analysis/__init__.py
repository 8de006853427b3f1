"""Trace analysis: pure Python, no Django (DESIGN §4).

``analyze(response, reference=…)`` extracts the thinking, splits it into steps,
classifies each step, finds and grades candidate answers, labels reflections
confirmatory or corrective and computes per-trace metrics. ``to_dict`` turns
the result into compact JSON-ready data for storage.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from reflectlab.analysis.answers import (
    Candidate,
    assign_steps,
    find_candidates,
    find_tentative,
    pick_final,
)
from reflectlab.analysis.classify import Step, classify_steps, episodes, reflective_indices
from reflectlab.analysis.extract import Extraction, extract
from reflectlab.analysis.grade import grade as grade_answer
from reflectlab.analysis.grade import grading_scope, grading_tally
from reflectlab.analysis.lexicon import Lexicon
from reflectlab.analysis.metrics import Metrics, compute_metrics
from reflectlab.analysis.reflections import Reflection, label_reflections
from reflectlab.analysis.result import TraceAnalysis
from reflectlab.analysis.serialize import to_dict
from reflectlab.analysis.steps import split_steps
from reflectlab.analysis.uncertainty import Uncertainty, uncertainty

# Bump when a change to this package changes any stored analysis.
ANALYZER_VERSION = "1"
# The longest ``analyzer_version`` a stored analysis can carry
# (``Trace.analyzer_version`` is a column of this width).
VERSION_MAX_LENGTH = 32

__all__ = [
    "ANALYZER_VERSION",
    "VERSION_MAX_LENGTH",
    "Candidate",
    "Extraction",
    "Lexicon",
    "Metrics",
    "Reflection",
    "Step",
    "TraceAnalysis",
    "Uncertainty",
    "analyze",
    "analyzer_version",
    "project_lexicon",
    "to_dict",
]


def analyzer_version(lexicon: Lexicon | None = None) -> str:
    """What produced an analysis: analyser and lexicon version, e.g. ``"1+lex1"``."""
    return f"{ANALYZER_VERSION}+lex{(lexicon or Lexicon.default()).version}"


def project_lexicon(overrides: dict[str, Any]) -> Lexicon | None:
    """A project's lexicon: the default with the project's overrides on top.

    An override that names its own version ("acme-2") gets the default's version
    in front ("5.acme-2"): the classes it leaves alone come from the default, so
    a new default lexicon must make the project's stored analyses stale too
    (``manage.py reanalyze`` compares versions), not only a new override.
    None when there are no overrides (the default lexicon).
    """
    if not overrides:
        return None
    base = Lexicon.default()
    lexicon = Lexicon.from_dict(overrides, base=base)
    if "version" in overrides:
        lexicon = replace(lexicon, version=f"{base.version}.{overrides['version']}")
    return lexicon


def _lowered(text: str) -> str:
    # Cue regexes run on lower-cased text; offsets stay valid only if lowering
    # keeps the length (it does except for rare letters such as "İ").
    lower = text.lower()
    if len(lower) == len(text):
        return lower
    return "".join(c if len(c.lower()) != 1 else c.lower() for c in text)


def _graded(candidates: list[Candidate], reference: str | None) -> list[Candidate]:
    if reference is None:
        return candidates
    return [c._replace(correct=grade_answer(reference, c.value)) for c in candidates]


def _final_correctness(final: Candidate | None, reference: str | None) -> bool | None:
    if reference is None:
        return None
    # With a reference, no answer at all is a wrong answer (it belongs in the review queue).
    return False if final is None else final.correct


def _reached_tentatively(
    tentative: list[Candidate], candidates: list[Candidate], reference: str | None
) -> int | None:
    """Step of the first tentative answer equal to the reference, when no candidate is right.

    Graded lazily and stopping at the first hit: on the shared traces 87 of the
    243 truncated traces without any candidate had reached the reference this way.
    """
    if reference is None or any(c.correct for c in candidates if c.step is not None):
        return None
    return next((t.step for t in tentative if grade_answer(reference, t.value)), None)


def analyze(
    response: str,
    *,
    reference: str | None = None,
    reasoning: str | None = None,
    finish_reason: str | None = None,
    logprobs: list[Any] | None = None,
    lexicon: Lexicon | None = None,
) -> TraceAnalysis:
    lexicon = lexicon or Lexicon.default()
    ext = extract(response, reasoning=reasoning, finish_reason=finish_reason)
    text = reasoning if ext.in_reasoning_field and reasoning is not None else response
    lower = _lowered(text)
    starts, ends = split_steps(text, ext.think_start, ext.think_end)
    split_points: list[int] = []
    steps = classify_steps(text, lower, starts, ends, lexicon, split_points)
    thinking = assign_steps(find_candidates(text, lower, ext.think_start, ext.think_end), starts)
    tentative = assign_steps(find_tentative(text, lower, ext.think_start, ext.think_end), starts)
    answer: list[Candidate] = []
    if ext.answer_start is not None:
        response_lower = lower if text is response else _lowered(response)
        answer = find_candidates(response, response_lower, ext.answer_start, len(response))
    with grading_tally() as tally, grading_scope(reference):
        candidates = _graded(thinking + answer, reference)
        final = pick_final(candidates[len(thinking) :], candidates[: len(thinking)])
        final_correct = _final_correctness(final, reference)
        reflective = reflective_indices(steps)
        runs = episodes(reflective)
        reflections = label_reflections(candidates, reflective, len(steps))
        reached = _reached_tentatively(tentative, candidates, reference)
    with grading_scope(reference):  # its answer-change count compares candidates
        metrics = compute_metrics(
            steps=steps,
            reflective=reflective,
            n_episodes=len(runs),
            candidates=candidates,
            reflections=reflections,
            final_correct=final_correct,
            has_final=final is not None,
            tentative_reached_step=reached,
            truncated=ext.truncated,
            think_start=ext.think_start,
            think_end=ext.think_end,
        )
    return TraceAnalysis(
        version=analyzer_version(lexicon),
        extraction=ext,
        steps=tuple(steps),
        episodes=tuple(runs),
        candidates=tuple(candidates),
        tentative=tuple(tentative),
        final_answer=final,
        final_correct=final_correct,
        reflections=tuple(reflections),
        metrics=metrics,
        uncertainty=uncertainty(logprobs) if logprobs else None,
        split_points=tuple(sorted(split_points)),
        grading=dict(tally),
    )
