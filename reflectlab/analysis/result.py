"""``TraceAnalysis``: the typed result of ``analyze`` (``serialize.to_dict`` stores it)."""

from __future__ import annotations

from dataclasses import dataclass, field

from reflectlab.analysis.answers import Candidate
from reflectlab.analysis.classify import Step
from reflectlab.analysis.extract import Extraction
from reflectlab.analysis.metrics import Metrics
from reflectlab.analysis.reflections import Reflection
from reflectlab.analysis.uncertainty import Uncertainty


@dataclass(frozen=True, slots=True)
class TraceAnalysis:
    """Offsets of steps and thinking candidates index ``thinking_text``
    (the response, or the reasoning field); answer-section candidates
    (``step is None``) index the response."""

    version: str
    extraction: Extraction
    steps: tuple[Step, ...]
    episodes: tuple[tuple[int, int], ...]
    candidates: tuple[Candidate, ...]
    tentative: tuple[Candidate, ...]
    final_answer: Candidate | None
    final_correct: bool | None
    reflections: tuple[Reflection, ...]
    metrics: Metrics
    uncertainty: Uncertainty | None
    # Offsets (into the thinking text) where a sentence inside a step opens
    # with a strong cue: suggested step splits (see ``classify_steps``).
    split_points: tuple[int, ...] = ()
    # Comparisons that timed out or were refused (grade.py): their grades are unknown.
    grading: dict[str, int] = field(default_factory=dict)

    @property
    def truncated(self) -> bool:
        return self.extraction.truncated
