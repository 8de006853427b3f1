"""The queue policy a manager sets, stored in ``Project.queue_policy``.

Order keys are packed into one integer rank per trace, so the queue sorts on an
index and a new trace gets its place without re-sorting the others. Ties go to
the older trace (lower id).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from django.core.exceptions import ValidationError

from reflectlab.core.ids import ID_MAX


@dataclass(frozen=True)
class OrderKey:
    label: str
    bits: int

    def value(self, trace: Any, policy: QueuePolicy) -> int:
        raise NotImplementedError

    def annotate(self, traces: Any, *, project_id: int) -> Any:
        """Add what ``value`` reads to the ranking queryset (keys on other tables)."""
        return traces


class _WrongFirst(OrderKey):
    def value(self, trace, policy) -> int:
        # wrong, then ungraded, then right; a truncated trace that never
        # answered is placed by the policy's ``truncated_no_answer``.
        places = TRUNCATED_PLACES[policy.truncated_no_answer]
        if getattr(trace, "outcome", None) == TRUNCATED_NO_ANSWER:
            return places[TRUNCATED_NO_ANSWER]
        return places[trace.final_correct]


class _CorrectiveFirst(OrderKey):
    def value(self, trace, policy) -> int:
        return 0 if trace.has_corrective else 1


class _ReflectionDesc(OrderKey):
    def value(self, trace, policy) -> int:
        cap = (1 << self.bits) - 1
        return cap - min(trace.n_reflection_steps or 0, cap)


class _ShareDesc(OrderKey):
    def value(self, trace, policy) -> int:
        return 1000 - round(max(0.0, min(1.0, trace.reflection_share or 0.0)) * 1000)


class _TruncatedFirst(OrderKey):
    def value(self, trace, policy) -> int:
        return 0 if trace.truncated else 1


ORDER_KEYS: dict[str, OrderKey] = {
    "wrong_first": _WrongFirst("Wrong final answer first", 2),
    "corrective_first": _CorrectiveFirst("Corrective reflection first", 1),
    "reflection_desc": _ReflectionDesc("Most reflection steps first", 10),
    "reflection_share_desc": _ShareDesc("Largest reflection share first", 10),
    "truncated_first": _TruncatedFirst("Truncated first", 1),
}
# Apps add keys on their own data at start-up (judges: reflectlab/judges/routing.py).
DEFAULT_ORDER = ["wrong_first", "corrective_first", "reflection_desc"]
CORRECTNESS = {
    "any": "Any",
    "wrong": "Wrong final answer",
    "right": "Right final answer",
    "ungraded": "Not graded",
}
TRUNCATED_NO_ANSWER = "truncated_no_answer"
# Where "wrong_first" puts a truncated trace without an answer (its
# final_correct is False when there is a reference, but it never answered).
# Values (2 bits) for wrong (False), ungraded (None), right (True) and truncated.
TRUNCATED_PLACES: dict[str, dict[Any, int]] = {
    "after_wrong": {False: 0, TRUNCATED_NO_ANSWER: 1, None: 2, True: 3},
    "with_wrong": {False: 0, TRUNCATED_NO_ANSWER: 0, None: 2, True: 3},
    "last": {False: 0, None: 1, True: 2, TRUNCATED_NO_ANSWER: 3},
}
TRUNCATED_CHOICES = {
    "after_wrong": "After wrong answers (before ungraded and right)",
    "with_wrong": "With wrong answers",
    "last": "Last (after right answers)",
}


@dataclass
class QueuePolicy:
    order: list[str] = field(default_factory=lambda: list(DEFAULT_ORDER))
    models: list[str] = field(default_factory=list)
    runs: list[int] = field(default_factory=list)
    correctness: str = "any"
    gold_rate: float = 0.1
    review_disagreements_first: bool = True
    truncated_no_answer: str = "after_wrong"

    @classmethod
    def from_json(cls, data: Any) -> QueuePolicy:
        """Parse a stored or submitted policy; raises ValidationError on bad input."""
        if data in (None, ""):
            data = {}
        if not isinstance(data, dict):
            raise ValidationError("The queue policy must be an object.")
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValidationError(f"Unknown policy fields: {', '.join(sorted(unknown))}.")
        policy = cls()
        order = data.get("order", policy.order)
        if not isinstance(order, list) or not all(isinstance(k, str) for k in order):
            raise ValidationError("order must be a list of order keys.")
        bad = [k for k in order if k not in ORDER_KEYS]
        if bad:
            raise ValidationError(f"Unknown order keys: {', '.join(bad)}.")
        if len(set(order)) != len(order):
            raise ValidationError("order lists a key twice.")
        models = data.get("models", [])
        if not isinstance(models, list) or not all(isinstance(m, str) for m in models):
            raise ValidationError("models must be a list of model names.")
        runs = data.get("runs", [])
        if not isinstance(runs, list) or not all(
            isinstance(r, int) and not isinstance(r, bool) and 1 <= r <= ID_MAX for r in runs
        ):
            raise ValidationError("runs must be a list of run ids.")
        correctness = data.get("correctness", "any")
        if correctness not in CORRECTNESS:
            raise ValidationError(f"correctness must be one of {', '.join(CORRECTNESS)}.")
        gold_rate = data.get("gold_rate", policy.gold_rate)
        if isinstance(gold_rate, bool) or not isinstance(gold_rate, int | float):
            raise ValidationError("gold_rate must be a number.")
        if not 0 <= gold_rate <= 1:
            raise ValidationError("gold_rate must be between 0 and 1.")
        first = data.get("review_disagreements_first", True)
        if not isinstance(first, bool):
            raise ValidationError("review_disagreements_first must be true or false.")
        truncated = data.get("truncated_no_answer", policy.truncated_no_answer)
        if truncated not in TRUNCATED_CHOICES:
            raise ValidationError(
                f"truncated_no_answer must be one of {', '.join(TRUNCATED_CHOICES)}."
            )
        return cls(
            order=order,
            models=models,
            runs=runs,
            correctness=correctness,
            gold_rate=float(gold_rate),
            review_disagreements_first=first,
            truncated_no_answer=truncated,
        )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def annotate(self, traces: Any, *, project_id: int) -> Any:
        for name in self.order:
            traces = ORDER_KEYS[name].annotate(traces, project_id=project_id)
        return traces

    def rank(self, trace: Any) -> int:
        value = 0
        for name in self.order:
            key = ORDER_KEYS[name]
            value = (value << key.bits) | key.value(trace, self)
        return value

    def admits(self, trace: Any) -> bool:
        """Whether a trace enters the annotation queue. Branches never do."""
        if trace.parent_id is not None or trace.state != "ready":
            return False
        if self.models and trace.model_name not in self.models:
            return False
        if self.runs and trace.run_id not in self.runs:
            return False
        wanted = {"wrong": False, "right": True, "ungraded": None}.get(self.correctness, "any")
        return wanted == "any" or trace.final_correct is wanted


def project_policy(project: Any) -> QueuePolicy:
    """The project's stored policy; a stored value that no longer parses reads as the default."""
    try:
        return QueuePolicy.from_json(project.queue_policy)
    except ValidationError:
        return QueuePolicy()
