"""Inter-annotator agreement. Pure Python: no Django, no numpy.

- First-error index: share of annotator pairs that mark the same first wrong
  step, exactly and within one step (ProcessBench scores the first-error index
  exactly; ±1 forgives a boundary placed one blank line early or late).
  "No error" (-1) agrees only with "no error".
- Step labels (+1 / 0 / -1, PRM800K): Krippendorff's alpha. We report the
  **interval** metric by default: the labels are ordered and equally spaced
  (bad < neutral < good), and an error of two (good vs bad) should cost more
  than an error of one. ``nominal``, ``ordinal`` and ``ratio`` are available.
  Computed from the coincidence matrix as in K. Krippendorff, "Computing
  Krippendorff's Alpha-Reliability" (2011), so missing values are allowed.
- Verdicts (correct / incorrect): Cohen's κ per pair of annotators (Cohen
  1960); the project figure is the mean of the pairwise κ (Light's κ, 1971).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

LEVELS = ("nominal", "ordinal", "interval", "ratio")


# ----- Krippendorff's alpha -----------------------------------------------------


def coincidences(units: Iterable[Sequence[Any]]) -> dict[tuple[Any, Any], float]:
    """The coincidence matrix o[c, k]: each unit with m ≥ 2 values adds 1/(m-1)
    for every ordered pair of its values (missing values are ``None``)."""
    matrix: dict[tuple[Any, Any], float] = defaultdict(float)
    for unit in units:
        values = [v for v in unit if v is not None]
        m = len(values)
        if m < 2:
            continue
        for i, c in enumerate(values):
            for j, k in enumerate(values):
                if i != j:
                    matrix[(c, k)] += 1 / (m - 1)
    return matrix


def _distance(level: str, marginals: Mapping[Any, float]) -> Callable[[Any, Any], float]:
    if level == "nominal":
        return lambda c, k: 0.0 if c == k else 1.0
    if level == "interval":
        return lambda c, k: float(c - k) ** 2
    if level == "ratio":
        return lambda c, k: 0.0 if c == k else ((c - k) / (c + k)) ** 2
    if level == "ordinal":
        ordered = sorted(marginals)
        position = {v: i for i, v in enumerate(ordered)}

        def ordinal(c, k):
            if c == k:
                return 0.0
            lo, hi = sorted((position[c], position[k]))
            between = sum(marginals[ordered[g]] for g in range(lo, hi + 1))
            return (between - (marginals[c] + marginals[k]) / 2) ** 2

        return ordinal
    raise ValueError(f"level must be one of {LEVELS}, not {level!r}")


def krippendorff_alpha(units: Iterable[Sequence[Any]], *, level: str = "interval") -> float | None:
    """alpha = 1 - D_o / D_e over units (each the values its coders gave, ``None``
    for missing). ``None`` when there is nothing to compare or no variation."""
    matrix = coincidences(units)
    marginals: dict[Any, float] = defaultdict(float)
    for (c, _k), count in matrix.items():
        marginals[c] += count
    n = sum(marginals.values())
    if n <= 1:
        return None
    delta = _distance(level, marginals)
    observed = sum(count * delta(c, k) for (c, k), count in matrix.items())
    values = list(marginals)
    expected = sum(marginals[c] * marginals[k] * delta(c, k) for c in values for k in values) / (
        n - 1
    )
    if expected == 0:
        return None
    return 1 - observed / expected


# ----- Cohen's kappa ------------------------------------------------------------


def cohen_kappa(pairs: Sequence[tuple[Hashable, Hashable]]) -> float | None:
    """kappa = (p_o - p_e) / (1 - p_e) for two raters' labels on the same items."""
    n = len(pairs)
    if n == 0:
        return None
    observed = sum(1 for a, b in pairs if a == b) / n
    first = Counter(a for a, _ in pairs)
    second = Counter(b for _, b in pairs)
    chance = sum(first[c] * second[c] for c in first) / (n * n)
    if chance == 1:
        return None  # both raters used one and the same label: κ is undefined
    return (observed - chance) / (1 - chance)


# ----- first-error index --------------------------------------------------------


def first_error_match(a: int, b: int, *, tolerance: int = 0) -> bool:
    if a < 0 or b < 0:  # -1: "no error" only matches itself
        return a == b
    return abs(a - b) <= tolerance


# ----- reports ------------------------------------------------------------------


@dataclass(frozen=True)
class Rating:
    """One annotator's judgement of one item (trace)."""

    item: Hashable
    rater: Hashable
    first_error: int | None = None
    step_labels: Mapping[int, int] = field(default_factory=dict)
    verdict: str | None = None


@dataclass
class Agreement:
    items: int = 0  # items with at least two ratings
    first_error_pairs: int = 0
    first_error_exact: float | None = None
    first_error_within1: float | None = None
    step_units: int = 0
    step_alpha: float | None = None
    verdict_pairs: int = 0
    verdict_kappa: float | None = None


@dataclass
class PairAgreement(Agreement):
    raters: tuple[Hashable, Hashable] = ("", "")


def _first_error_stats(pairs: list[tuple[int, int]], into: Agreement) -> None:
    into.first_error_pairs = len(pairs)
    if pairs:
        into.first_error_exact = sum(first_error_match(a, b) for a, b in pairs) / len(pairs)
        into.first_error_within1 = sum(first_error_match(a, b, tolerance=1) for a, b in pairs) / (
            len(pairs)
        )


def _step_units(by_item: Mapping[Hashable, list[Rating]]) -> list[list[int]]:
    units = []
    for ratings in by_item.values():
        steps = sorted({s for r in ratings for s in r.step_labels})
        for step in steps:
            units.append([r.step_labels.get(step) for r in ratings])
    return units


def pair_agreement(
    a: Hashable, b: Hashable, shared: Mapping[Hashable, list[Rating]]
) -> PairAgreement:
    """Agreement of two raters over the items both rated (``shared`` maps item → [ra, rb])."""
    report = PairAgreement(raters=(a, b), items=len(shared))
    _first_error_stats(
        [
            (ra.first_error, rb.first_error)
            for ra, rb in shared.values()
            if ra.first_error is not None and rb.first_error is not None
        ],
        report,
    )
    units = [u for u in _step_units(shared) if sum(v is not None for v in u) >= 2]
    report.step_units = len(units)
    report.step_alpha = krippendorff_alpha(units)
    verdicts = [(ra.verdict, rb.verdict) for ra, rb in shared.values() if ra.verdict and rb.verdict]
    report.verdict_pairs = len(verdicts)
    report.verdict_kappa = cohen_kappa(verdicts)
    return report


def agreement_report(ratings: Iterable[Rating]) -> tuple[Agreement, list[PairAgreement]]:
    """Project-level agreement and one entry per pair of raters who share items."""
    by_item: dict[Hashable, list[Rating]] = defaultdict(list)
    for rating in ratings:
        by_item[rating.item].append(rating)
    multi = {item: rs for item, rs in by_item.items() if len(rs) >= 2}

    shared: dict[tuple, dict[Hashable, list[Rating]]] = defaultdict(dict)
    for item, rs in multi.items():
        for ra, rb in combinations(sorted(rs, key=lambda r: str(r.rater)), 2):
            shared[(ra.rater, rb.rater)][item] = [ra, rb]
    pairs = [pair_agreement(a, b, items) for (a, b), items in sorted(shared.items(), key=str)]

    project = Agreement(items=len(multi))
    _first_error_stats(
        [
            (ra.first_error, rb.first_error)
            for items in shared.values()
            for ra, rb in items.values()
            if ra.first_error is not None and rb.first_error is not None
        ],
        project,
    )
    units = [u for u in _step_units(multi) if sum(v is not None for v in u) >= 2]
    project.step_units = len(units)
    project.step_alpha = krippendorff_alpha(units)
    kappas = [p.verdict_kappa for p in pairs if p.verdict_kappa is not None]
    project.verdict_pairs = sum(p.verdict_pairs for p in pairs)
    project.verdict_kappa = sum(kappas) / len(kappas) if kappas else None
    return project, pairs


def rater_agreement(pairs: Iterable[PairAgreement]) -> dict[Hashable, float]:
    """Per rater: the exact first-error agreement with everyone they share items with."""
    hits: dict[Hashable, float] = defaultdict(float)
    totals: dict[Hashable, int] = defaultdict(int)
    for pair in pairs:
        if pair.first_error_exact is None:
            continue
        for rater in pair.raters:
            hits[rater] += pair.first_error_exact * pair.first_error_pairs
            totals[rater] += pair.first_error_pairs
    return {r: hits[r] / totals[r] for r in totals if totals[r]}


def disagree(a: Rating, b: Rating) -> bool:
    """Two ratings of one item that a reviewer should look at first."""
    if (
        a.first_error is not None
        and b.first_error is not None
        and not first_error_match(a.first_error, b.first_error, tolerance=1)
    ):
        return True
    return bool(a.verdict and b.verdict and a.verdict != b.verdict)


def gold_score(
    *,
    expected_first_error: int | None,
    expected_verdict: str | None,
    first_error: int | None,
    verdict: str | None,
) -> tuple[int, int]:
    """(hits, checks) of one annotation against a gold item's known answers."""
    hits = checks = 0
    if expected_first_error is not None:
        checks += 1
        hits += first_error == expected_first_error
    if expected_verdict:
        checks += 1
        hits += verdict == expected_verdict
    return hits, checks
