"""The reflection charts' queries. Every number is computed by the database.

Each public function takes the project and the validated filters and returns
plain rows (lists of dicts with JSON- and CSV-friendly values), so the same
rows feed the Plotly figures, the CSV downloads and the stats API. They read
the per-trace numbers the analysis copied into Trace columns (never the
``analysis`` JSON), and a whole reflection page is two scans of one covering
index — or, usually, of the rollups that the database keeps (``rollups``):
``by_reflection_count`` and ``by_share_and_position`` aggregate into a few
hundred rows, and every chart's rows are derived from
those (``derived``; sums and counts add up exactly). Runs, annotation and
hints are in ``effort``.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import contextmanager
from functools import wraps
from typing import Any

from django.db import connection, transaction
from django.db.models import Case, Count, F, IntegerField, Q, Sum, Value, When
from django.db.models.functions import Cast, Floor, Least

from reflectlab.dashboards import rollups
from reflectlab.dashboards.filters import Filters, ratio, rounded, traces
from reflectlab.projects.models import Project
from reflectlab.traces.analysis import REFLECTION_COUNT_COLUMNS

__all__ = ["CALM_HINT_SHARE", "REFLECTION_BINS", "Filters"]

# CALM (Hint size, DESIGN §10): hints change fewer than 2.6 % of the tokens.
CALM_HINT_SHARE = 0.026
# Reflection-count bins for the accuracy curve: (label, lowest, highest or None).
REFLECTION_BINS: tuple[tuple[str, int, int | None], ...] = (
    ("0", 0, 0),
    ("1", 1, 1),
    ("2", 2, 2),
    ("3-4", 3, 4),
    ("5-8", 5, 8),
    ("9-16", 9, 16),
    ("17+", 17, None),
)
SHARE_BINS = 20  # 5 % wide
POSITION_BINS = 10  # deciles of the thinking

Rows = list[dict[str, Any]]


def derived(base: Callable[..., Rows]):
    """Mark a selector as a pure function of another selector's rows.

    Called directly it runs ``base`` itself; ``charts.RowCache`` instead feeds it
    the rows it already holds, so one page runs ``base``'s query once.
    """

    def wrap(derive: Callable[[Rows], Any]):
        @wraps(derive)
        def selector(*, project: Project, filters: Filters):
            return derive(base(project=project, filters=filters))

        selector.base, selector.derive = base, derive
        return selector

    return wrap


# --- the two scans: everything else is derived from their rows ------------------------


def _bins(field: str, bins: int) -> Case:
    """A fraction in [0, 1] → bin 0 … bins-1 (1.0 falls in the last bin; NULL stays NULL,
    explicitly: PostgreSQL's LEAST skips NULLs, so LEAST(NULL, 9) would be 9)."""
    binned = Least(Cast(Floor(F(field) * bins), IntegerField()), Value(bins - 1))
    return Case(
        When(**{f"{field}__isnull": True}, then=Value(None)),
        default=binned,
        output_field=IntegerField(),
    )


# COUNT(*) or a count of a NOT NULL indexed column, never COUNT(id): the id is
# not in the covering index, and reading it turns the index-only scan into a
# heap scan (3x slower at 1M traces).


def _count(condition: Q) -> Count:
    return Count("n_reflection_steps", filter=condition)


@contextmanager
def _hash_aggregates():
    """Let PostgreSQL hash the scans' groups instead of sorting a million rows.

    The planner cannot know that binned fractions take a few values, so it
    guesses ~100k groups, prices a hash table over the default 4 MB work_mem
    and sorts every row instead (2-3x the scan). The real tables hold a few
    hundred groups; SET LOCAL lasts only for this transaction.
    """
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL work_mem = '64MB'")
        yield


def by_reflection_count(*, project: Project, filters: Filters) -> Rows:
    """Sums and counts per (model, number of reflection steps): feeds the headline
    numbers, the model table, the reflection kinds, the reflection-steps boxes and
    the accuracy curve. Read from the rollups (a few thousand rows) when they can
    answer the filters, else one scan of the covering index."""
    if rollups.answers(filters):
        return rollups.by_reflection_count(project=project, filters=filters)
    return by_reflection_count_direct(project=project, filters=filters)


def by_reflection_count_direct(*, project: Project, filters: Filters) -> Rows:
    """``by_reflection_count`` from the traces themselves."""
    reflection_sums = {column: Sum(column) for column in REFLECTION_COUNT_COLUMNS.values()}
    rows = (
        traces(project=project, filters=filters)
        .values("model_name", "n_reflection_steps")
        .annotate(
            traces=Count("*"),
            graded=_count(Q(final_correct__isnull=False)),
            correct=_count(Q(final_correct=True)),
            corrective=_count(Q(has_corrective=True)),
            truncated=_count(Q(truncated=True)),
            # Truncation is its own outcome (not a wrong answer); some had reached it.
            truncated_no_answer=_count(Q(outcome="truncated_no_answer")),
            truncated_reached=_count(
                Q(outcome="truncated_no_answer", answer_reached_step__isnull=False)
            ),
            reflection_share=Sum("reflection_share"),
            thinking_chars=Sum("thinking_chars"),
            **reflection_sums,
        )
        .order_by("model_name", "n_reflection_steps")
    )
    with _hash_aggregates():
        return [
            {
                **row,
                "model": row.pop("model_name"),
                "reflection_steps": row.pop("n_reflection_steps"),
            }
            for row in rows
        ]


def by_share_and_position(*, project: Project, filters: Filters) -> Rows:
    """Traces per (model, reflection-share bin, first-answer bin or None), feeding
    both histograms; from the rollups when they can answer the filters."""
    if rollups.answers(filters):
        return rollups.by_share_and_position(project=project, filters=filters)
    return by_share_and_position_direct(project=project, filters=filters)


def by_share_and_position_direct(*, project: Project, filters: Filters) -> Rows:
    """``by_share_and_position`` from the traces themselves (a scan of ``trace_charts``)."""
    rows = (
        traces(project=project, filters=filters)
        .annotate(
            share_bin=_bins("reflection_share", SHARE_BINS),  # never NULL: CASE is a no-op
            position_bin=_bins("first_candidate_position", POSITION_BINS),
        )
        .values("model_name", "share_bin", "position_bin")
        .annotate(traces=Count("*"))
        .order_by("model_name", "share_bin", "position_bin")
    )
    with _hash_aggregates():
        return [{**row, "model": row.pop("model_name")} for row in rows]


# --- per model: headline numbers, the model table, reflection kinds ------------------

_ADDITIVE = (
    "traces",
    "graded",
    "correct",
    "corrective",
    "truncated",
    "truncated_no_answer",
    "truncated_reached",
    "reflection_share",
    "thinking_chars",
    *REFLECTION_COUNT_COLUMNS.values(),
)


@derived(by_reflection_count)
def per_model(rows: Rows) -> Rows:
    """One row of sums and counts per model (means and shares are derived from it)."""
    out: dict[str, dict[str, Any]] = {}
    for row in rows:
        total = out.setdefault(
            row["model"],
            {"model": row["model"], "reflecting": 0, "reflection_steps": 0}
            | dict.fromkeys(_ADDITIVE, 0),
        )
        for key in _ADDITIVE:
            total[key] += row[key] or 0
        total["reflection_steps"] += row["reflection_steps"] * row["traces"]
        if row["reflection_steps"] > 0:
            total["reflecting"] += row["traces"]
    return list(out.values())


def _mean(row: dict[str, Any], key: str, digits: int) -> float | None:
    return rounded(row[key] / row["traces"], digits) if row["traces"] else None


@derived(per_model)
def summary(rows: Rows) -> dict[str, Any]:
    total = {
        key: sum(r[key] or 0 for r in rows)
        for key in (
            "traces",
            "graded",
            "correct",
            "reflecting",
            "corrective",
            "truncated",
            "truncated_no_answer",
            "truncated_reached",
            "reflection_steps",
            "reflection_share",
        )
    }
    return {
        "traces": total["traces"],
        "models": len(rows),
        "graded": total["graded"],
        "correct": total["correct"],
        "reflecting": total["reflecting"],
        "corrective": total["corrective"],
        "truncated": total["truncated"],
        "truncated_no_answer": total["truncated_no_answer"],
        "truncated_reached": total["truncated_reached"],
        "accuracy": ratio(total["correct"], total["graded"]),
        "reflecting_share": ratio(total["reflecting"], total["traces"]),
        "corrective_share": ratio(total["corrective"], total["traces"]),
        "mean_reflection_steps": _mean(total, "reflection_steps", 4),
        "mean_reflection_share": _mean(total, "reflection_share", 4),
    }


@derived(per_model)
def models_overview(rows: Rows) -> Rows:
    """One row per model: how often and how much it reflects, and how often it is right."""
    return [
        {
            "model": row["model"],
            "traces": row["traces"],
            "accuracy": ratio(row["correct"], row["graded"]),
            "reflecting_share": ratio(row["reflecting"], row["traces"]),
            "corrective_share": ratio(row["corrective"], row["traces"]),
            "mean_reflection_steps": _mean(row, "reflection_steps", 3),
            "mean_reflection_share": _mean(row, "reflection_share", 4),
            "mean_thinking_chars": _mean(row, "thinking_chars", 1),
        }
        for row in rows
    ]


@derived(per_model)
def reflection_kinds(rows: Rows) -> Rows:
    """Labelled reflections per model, kind and correctness transition.

    Summed from the per-trace reflection columns the analysis filled (see
    ``traces.analysis.REFLECTION_COUNT_COLUMNS``).
    """
    out = [
        {
            "model": row["model"],
            "kind": kind,
            "transition": transition,
            "reflections": row[column],
            "model_traces": row["traces"],
        }
        for row in rows
        for (kind, transition), column in REFLECTION_COUNT_COLUMNS.items()
        if row[column]
    ]
    return sorted(out, key=lambda r: (r["model"], r["kind"], r["transition"]))


# --- histograms ----------------------------------------------------------------------


@derived(by_reflection_count)
def reflection_steps(rows: Rows) -> Rows:
    """How many traces of each model have k reflection steps (an exact histogram)."""
    return [
        {"model": r["model"], "reflection_steps": r["reflection_steps"], "traces": r["traces"]}
        for r in rows
    ]


def _histogram(rows: Rows, key: str, bins: int, name: str, *, digits: int) -> Rows:
    """Sum ``rows`` into traces per (model, ``key`` bin), skipping rows without a bin."""
    counts: dict[tuple[str, int], int] = {}
    for row in rows:
        if row[key] is not None:
            counts[row["model"], row[key]] = counts.get((row["model"], row[key]), 0) + row["traces"]
    return [
        {
            "model": model,
            f"{name}_from": round(b / bins, digits),
            f"{name}_to": round((b + 1) / bins, digits),
            "traces": n,
        }
        for (model, b), n in sorted(counts.items())
    ]


@derived(by_share_and_position)
def reflection_share(rows: Rows) -> Rows:
    """Share of the thinking spent reflecting, in 5 % bins per model."""
    return _histogram(rows, "share_bin", SHARE_BINS, "share", digits=4)


@derived(by_share_and_position)
def first_candidate_position(rows: Rows) -> Rows:
    """Where the first candidate answer starts, as deciles of the thinking (First Try Matters).

    Traces without a candidate in the thinking are left out.
    """
    return _histogram(rows, "position_bin", POSITION_BINS, "position", digits=2)


def _reflection_bin(n: int) -> int:
    for i, (_label, lo, hi) in enumerate(REFLECTION_BINS):
        if n >= lo and (hi is None or n <= hi):
            return i
    raise ValueError(n)  # pragma: no cover - the bins cover every n >= 0


@derived(by_reflection_count)
def accuracy_by_reflections(rows: Rows) -> Rows:
    """Accuracy of graded traces against their number of reflection steps (binned)."""
    sums: dict[tuple[str, int], list[int]] = {}
    for row in rows:
        if row["graded"]:
            total = sums.setdefault(
                (row["model"], _reflection_bin(row["reflection_steps"])), [0, 0]
            )
            total[0] += row["graded"]
            total[1] += row["correct"]
    return [
        {
            "model": model,
            "reflection_steps": REFLECTION_BINS[b][0],
            "graded": graded,
            "correct": correct,
            "accuracy": ratio(correct, graded),
        }
        for (model, b), (graded, correct) in sorted(sums.items())
    ]
