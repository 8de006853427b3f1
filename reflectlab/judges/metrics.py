"""Agreement metrics for judge vs human (pure Python, no Django).

ProcessBench (Zheng et al., 2024, arXiv 2412.06559, §3.2): a sample is judged
right when the predicted earliest-error index equals the label exactly (-1 =
no error). *Error accuracy* is the share right among samples whose label is a
step (>= 0), *correct accuracy* the share right among samples labelled -1, and
F1 their harmonic mean. A prediction that could not be parsed is wrong (the
paper's extraction yields None, which equals no label).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class ProcessBenchScore:
    subset: str
    n: int
    n_erroneous: int
    n_correct: int
    error_accuracy: float | None  # None when there is no such sample
    correct_accuracy: float | None
    f1: float | None

    def to_dict(self) -> dict:
        return asdict(self)


def harmonic_mean(a: float | None, b: float | None) -> float | None:
    if a is None or b is None:
        return None
    return 0.0 if a + b == 0 else 2 * a * b / (a + b)


def processbench_score(subset: str, pairs: Iterable[tuple[int, int | None]]) -> ProcessBenchScore:
    """``pairs``: (label, prediction) with -1 for no error; prediction None = unparseable."""
    right = Counter()
    seen = Counter()
    for label, prediction in pairs:
        group = "correct" if label == -1 else "erroneous"
        seen[group] += 1
        right[group] += int(prediction is not None and prediction == label)
    err = right["erroneous"] / seen["erroneous"] if seen["erroneous"] else None
    cor = right["correct"] / seen["correct"] if seen["correct"] else None
    return ProcessBenchScore(
        subset=subset,
        n=seen["erroneous"] + seen["correct"],
        n_erroneous=seen["erroneous"],
        n_correct=seen["correct"],
        error_accuracy=err,
        correct_accuracy=cor,
        f1=harmonic_mean(err, cor),
    )


def processbench_by_subset(
    rows: Iterable[tuple[str, int, int | None]],
) -> list[ProcessBenchScore]:
    """Scores per subset, then the average F1 over subsets as the paper reports it
    (subset ``"average"``: mean of the subsets' accuracies and F1s)."""
    groups: dict[str, list[tuple[int, int | None]]] = defaultdict(list)
    for subset, label, prediction in rows:
        groups[subset].append((label, prediction))
    scores = [processbench_score(name, pairs) for name, pairs in sorted(groups.items())]
    if len(scores) > 1:
        scores.append(_average(scores))
    return scores


def _mean(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return sum(known) / len(known) if known and len(known) == len(values) else None


def _average(scores: list[ProcessBenchScore]) -> ProcessBenchScore:
    return ProcessBenchScore(
        subset="average",
        n=sum(s.n for s in scores),
        n_erroneous=sum(s.n_erroneous for s in scores),
        n_correct=sum(s.n_correct for s in scores),
        error_accuracy=_mean([s.error_accuracy for s in scores]),
        correct_accuracy=_mean([s.correct_accuracy for s in scores]),
        f1=_mean([s.f1 for s in scores]),
    )


def cohen_kappa(pairs: Iterable[tuple[object, object]]) -> float | None:
    """Cohen's κ of two raters over the same items; None without items, 1.0 when
    both used one and the same category throughout (perfect, chance agreement 1)."""
    pairs = list(pairs)
    if not pairs:
        return None
    n = len(pairs)
    observed = sum(a == b for a, b in pairs) / n
    left = Counter(a for a, _ in pairs)
    right = Counter(b for _, b in pairs)
    expected = sum(left[c] * right[c] for c in left.keys() | right.keys()) / (n * n)
    if expected >= 1.0:
        return 1.0 if observed == 1.0 else 0.0
    return (observed - expected) / (1 - expected)


def labels_from_first_error(first_error: int, n_steps: int) -> dict[str, int]:
    """Step labels implied by a first-error index, as the ProcessBench import
    writes them: steps before it +1, it -1, later steps unlabelled."""
    if first_error < 0:
        return {str(i): 1 for i in range(n_steps)}
    return {str(i): 1 for i in range(min(first_error, n_steps))} | {str(first_error): -1}
