"""The reflection charts' queries. Every number is computed by the database.

Each public function takes the project and the validated filters and returns
plain rows (lists of dicts with JSON- and CSV-friendly values), so the same
rows feed the Plotly figures, the CSV downloads and the stats API. They read
the per-trace numbers the analysis copied into Trace columns (never the
``analysis`` JSON), so each is one aggregate over narrow columns. The headline
numbers, the per-model table and the reflection kinds all come from one
per-model query (``per_model``); the others are one histogram query each.
Runs, annotation and hints are in ``effort``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.db.models import Case, Count, F, IntegerField, Q, QuerySet, Sum, Value, When
from django.db.models.functions import Cast, Floor, Least

from reflectlab.dashboards.filters import Filters, ratio, rounded, traces
from reflectlab.projects.models import Project
from reflectlab.traces.analysis import REFLECTION_COUNT_COLUMNS
from reflectlab.traces.models import Trace

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


# --- per model: headline numbers, the model table, reflection kinds ------------------


def per_model(*, project: Project, filters: Filters) -> Rows:
    """One row of sums and counts per model (means and shares are derived from it)."""
    reflection_sums = {column: Sum(column) for column in REFLECTION_COUNT_COLUMNS.values()}
    rows = (
        traces(project=project, filters=filters)
        .values("model_name")
        .annotate(
            traces=Count("id"),
            graded=Count("id", filter=Q(final_correct__isnull=False)),
            correct=Count("id", filter=Q(final_correct=True)),
            reflecting=Count("id", filter=Q(has_reflection=True)),
            corrective=Count("id", filter=Q(has_corrective=True)),
            truncated=Count("id", filter=Q(truncated=True)),
            reflection_steps=Sum("n_reflection_steps"),
            reflection_share=Sum("reflection_share"),
            thinking_chars=Sum("thinking_chars"),
            **reflection_sums,
        )
        .order_by("model_name")
    )
    return [{**row, "model": row.pop("model_name")} for row in rows]


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


def reflection_steps(*, project: Project, filters: Filters) -> Rows:
    """How many traces of each model have k reflection steps (an exact histogram)."""
    rows = (
        traces(project=project, filters=filters)
        .values("model_name", "n_reflection_steps")
        .annotate(traces=Count("id"))
        .order_by("model_name", "n_reflection_steps")
    )
    return [
        {
            "model": r["model_name"],
            "reflection_steps": r["n_reflection_steps"],
            "traces": r["traces"],
        }
        for r in rows
    ]


def _histogram(queryset: QuerySet[Trace], expression, bins: int, name: str, *, digits: int) -> Rows:
    """Traces per model in ``bins`` equal bins of ``expression`` (a fraction in [0, 1];
    1.0 falls in the last bin)."""
    rows = (
        queryset.annotate(
            bin=Least(Cast(Floor(expression * bins), IntegerField()), Value(bins - 1))
        )
        .values("model_name", "bin")
        .annotate(traces=Count("id"))
        .order_by("model_name", "bin")
    )
    return [
        {
            "model": r["model_name"],
            f"{name}_from": round(r["bin"] / bins, digits),
            f"{name}_to": round((r["bin"] + 1) / bins, digits),
            "traces": r["traces"],
        }
        for r in rows
    ]


def reflection_share(*, project: Project, filters: Filters) -> Rows:
    """Share of the thinking spent reflecting, in 5 % bins per model."""
    queryset = traces(project=project, filters=filters)
    return _histogram(queryset, F("reflection_share"), SHARE_BINS, "share", digits=4)


def first_candidate_position(*, project: Project, filters: Filters) -> Rows:
    """Where the first candidate answer starts, as deciles of the thinking (First Try Matters).

    Traces without a candidate in the thinking are left out.
    """
    queryset = traces(project=project, filters=filters).filter(
        first_candidate_position__isnull=False
    )
    return _histogram(queryset, F("first_candidate_position"), POSITION_BINS, "position", digits=2)


def _reflection_bin() -> Case:
    whens = [
        When(
            Q(n_reflection_steps__gte=lo)
            & (Q(n_reflection_steps__lte=hi) if hi is not None else Q()),
            then=Value(i),
        )
        for i, (_label, lo, hi) in enumerate(REFLECTION_BINS)
    ]
    return Case(*whens, output_field=IntegerField())


def accuracy_by_reflections(*, project: Project, filters: Filters) -> Rows:
    """Accuracy of graded traces against their number of reflection steps (binned)."""
    rows = (
        traces(project=project, filters=filters)
        .filter(final_correct__isnull=False)
        .annotate(bin=_reflection_bin())
        .values("model_name", "bin")
        .annotate(graded=Count("id"), correct=Count("id", filter=Q(final_correct=True)))
        .order_by("model_name", "bin")
    )
    return [
        {
            "model": r["model_name"],
            "reflection_steps": REFLECTION_BINS[r["bin"]][0],
            "graded": r["graded"],
            "correct": r["correct"],
            "accuracy": ratio(r["correct"], r["graded"]),
        }
        for r in rows
    ]
