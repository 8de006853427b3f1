"""The dashboards' aggregate queries. Every number is computed by the database.

Each public function takes the project and the validated filters and returns
plain rows (lists of dicts with JSON- and CSV-friendly values), so the same
rows feed the Plotly figures, the CSV downloads and the stats API. None of
them loops over traces in Python: the loops below run over aggregated rows
(a few per model and bucket).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import (
    Avg,
    Case,
    Count,
    F,
    FloatField,
    IntegerField,
    Max,
    Min,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.fields.json import KT
from django.db.models.functions import (
    Cast,
    Floor,
    Least,
    Length,
    NullIf,
    TruncDay,
    TruncHour,
    TruncMinute,
)
from django.utils import timezone

from reflectlab.annotations.models import Annotation
from reflectlab.projects.models import Project
from reflectlab.review import agreement as stats
from reflectlab.review import selectors as review_selectors
from reflectlab.traces.models import Trace

# CALM (Hint size, DESIGN §10): hints change fewer than 2.6 % of the tokens.
CALM_HINT_SHARE = 0.026
DONE_STATES = (Annotation.State.SUBMITTED, Annotation.State.ACCEPTED)
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
HINT_BIN = 0.005  # 0.5 % of the parent's thinking
HINT_BINS = 12  # the last bin holds everything from 5.5 % up


@dataclass(frozen=True)
class Filters:
    run: int | None = None
    model: str = ""
    date_from: date | None = None
    date_to: date | None = None

    @classmethod
    def from_cleaned(cls, data: dict[str, Any]) -> Filters:
        return cls(
            run=data.get("run"),
            model=data.get("model") or "",
            date_from=data.get("date_from"),
            date_to=data.get("date_to"),
        )

    def time_range(self) -> tuple[datetime | None, datetime | None]:
        """Whole days in the current time zone, as a half-open datetime range (index friendly)."""
        tz = timezone.get_current_timezone()
        start = datetime.combine(self.date_from, time.min, tzinfo=tz) if self.date_from else None
        end = (
            datetime.combine(self.date_to + timedelta(days=1), time.min, tzinfo=tz)
            if self.date_to
            else None
        )
        return start, end

    def q(self, prefix: str = "", *, time_field: str = "created_at") -> Q:
        """The filters as a Q on a Trace (``prefix`` reaches a Trace from another model)."""
        q = Q()
        if self.run is not None:
            q &= Q(**{f"{prefix}run_id": self.run})
        if self.model:
            q &= Q(**{f"{prefix}model_name": self.model})
        return q & self.time_q(time_field)

    def time_q(self, field: str) -> Q:
        start, end = self.time_range()
        q = Q()
        if start:
            q &= Q(**{f"{field}__gte": start})
        if end:
            q &= Q(**{f"{field}__lt": end})
        return q


def traces(*, project: Project, filters: Filters) -> QuerySet[Trace]:
    """Analysed, first-generation traces: branches carry a human hint, so they
    would blur the model's own behaviour and are charted separately."""
    return Trace.objects.filter(
        filters.q(), project=project, state=Trace.State.READY, parent__isnull=True
    ).order_by()


def _ratio(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


# --- headline numbers -------------------------------------------------------------


def summary(*, project: Project, filters: Filters) -> dict[str, Any]:
    row = traces(project=project, filters=filters).aggregate(
        traces=Count("id"),
        models=Count("model_name", distinct=True),
        graded=Count("id", filter=Q(final_correct__isnull=False)),
        correct=Count("id", filter=Q(final_correct=True)),
        reflecting=Count("id", filter=Q(has_reflection=True)),
        corrective=Count("id", filter=Q(has_corrective=True)),
        truncated=Count("id", filter=Q(truncated=True)),
        mean_reflection_steps=Avg("n_reflection_steps"),
        mean_reflection_share=Avg("reflection_share"),
    )
    return {
        **row,
        "accuracy": _ratio(row["correct"], row["graded"]),
        "reflecting_share": _ratio(row["reflecting"], row["traces"]),
        "corrective_share": _ratio(row["corrective"], row["traces"]),
        "mean_reflection_steps": _round(row["mean_reflection_steps"]),
        "mean_reflection_share": _round(row["mean_reflection_share"]),
    }


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


def models_overview(*, project: Project, filters: Filters) -> list[dict[str, Any]]:
    """One row per model: how often and how much it reflects, and how often it is right."""
    rows = (
        traces(project=project, filters=filters)
        .values("model_name")
        .annotate(
            traces=Count("id"),
            graded=Count("id", filter=Q(final_correct__isnull=False)),
            correct=Count("id", filter=Q(final_correct=True)),
            reflecting=Count("id", filter=Q(has_reflection=True)),
            corrective=Count("id", filter=Q(has_corrective=True)),
            mean_reflection_steps=Avg("n_reflection_steps"),
            mean_reflection_share=Avg("reflection_share"),
            mean_thinking_chars=Avg("thinking_chars"),
        )
        .order_by("model_name")
    )
    return [
        {
            "model": row["model_name"],
            "traces": row["traces"],
            "accuracy": _ratio(row["correct"], row["graded"]),
            "reflecting_share": _ratio(row["reflecting"], row["traces"]),
            "corrective_share": _ratio(row["corrective"], row["traces"]),
            "mean_reflection_steps": _round(row["mean_reflection_steps"], 3),
            "mean_reflection_share": _round(row["mean_reflection_share"]),
            "mean_thinking_chars": _round(row["mean_thinking_chars"], 1),
        }
        for row in rows
    ]


# --- reflection behaviour per model -------------------------------------------------


def reflection_steps(*, project: Project, filters: Filters) -> list[dict[str, Any]]:
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


def _binned(queryset: QuerySet, expression, bins: int) -> QuerySet:
    """``value`` in [0, 1] → bin index 0 … bins-1 (1.0 falls in the last bin)."""
    return queryset.annotate(
        bin=Least(Cast(Floor(expression * bins), IntegerField()), Value(bins - 1))
    )


def reflection_share(*, project: Project, filters: Filters) -> list[dict[str, Any]]:
    """Share of the thinking spent reflecting, in 5 % bins per model."""
    queryset = traces(project=project, filters=filters)
    return _histogram(queryset, F("reflection_share"), SHARE_BINS, "share", digits=4)


def _histogram(
    queryset: QuerySet[Trace], expression, bins: int, name: str, *, digits: int
) -> list[dict[str, Any]]:
    """Traces per model in ``bins`` equal bins of ``expression`` (a fraction in [0, 1])."""
    rows = (
        _binned(queryset, expression, bins)
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


def first_candidate_position(*, project: Project, filters: Filters) -> list[dict[str, Any]]:
    """Where the first candidate answer starts, as deciles of the thinking (First Try Matters).

    Read from ``analysis.metrics`` by the database (``->>`` on PostgreSQL,
    ``json_extract`` on SQLite); traces without a candidate in the thinking
    are left out.
    """
    position = Cast(KT("analysis__metrics__first_candidate_position"), FloatField())
    # JSON null must go first: SQLite's key transform reads it as the text 'null'.
    queryset = (
        traces(project=project, filters=filters)
        .exclude(analysis__metrics__first_candidate_position=None)
        .annotate(position=position)
        .filter(position__isnull=False)
    )
    return _histogram(queryset, F("position"), POSITION_BINS, "position", digits=2)


def reflection_kinds(*, project: Project, filters: Filters) -> list[dict[str, Any]]:
    """Labelled reflections per model, kind and correctness transition.

    ``analysis.reflections`` is a JSON array, so the database unnests it
    (``jsonb_array_elements`` on PostgreSQL, ``json_each`` on SQLite) and
    groups; the trace filter is the ORM's own SQL, used as a subquery.
    """
    inner, params = traces(project=project, filters=filters).values("id").query.sql_with_params()
    table = connection.ops.quote_name(Trace._meta.db_table)
    if connection.vendor == "postgresql":
        sql = f"""
            SELECT t.model_name, r.value ->> 'kind', r.value ->> 'transition', COUNT(*)
            FROM {table} t
            CROSS JOIN LATERAL jsonb_array_elements(
                CASE WHEN jsonb_typeof(t.analysis -> 'reflections') = 'array'
                     THEN t.analysis -> 'reflections' ELSE '[]'::jsonb END
            ) AS r(value)
            WHERE t.id IN ({inner})
            GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
        """  # noqa: S608 - only the ORM's compiled SQL and a quoted table name are interpolated
    elif connection.vendor == "sqlite":
        sql = f"""
            SELECT t.model_name, json_extract(r.value, '$.kind'),
                   json_extract(r.value, '$.transition'), COUNT(*)
            FROM {table} t, json_each(t.analysis, '$.reflections') r
            WHERE t.id IN ({inner}) AND json_type(t.analysis, '$.reflections') = 'array'
            GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
        """  # noqa: S608
    else:  # pragma: no cover - the project supports SQLite and PostgreSQL
        raise NotImplementedError(connection.vendor)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        fetched = cursor.fetchall()
    per_model = traces_per_model(project=project, filters=filters)
    return [
        {
            "model": model,
            "kind": kind or "",
            "transition": transition or "",
            "reflections": n,
            "model_traces": per_model.get(model, 0),
        }
        for model, kind, transition, n in fetched
    ]


def traces_per_model(*, project: Project, filters: Filters) -> dict[str, int]:
    rows = traces(project=project, filters=filters).values("model_name").annotate(n=Count("id"))
    return {r["model_name"]: r["n"] for r in rows.order_by()}


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


def accuracy_by_reflections(*, project: Project, filters: Filters) -> list[dict[str, Any]]:
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
            "accuracy": _ratio(r["correct"], r["graded"]),
        }
        for r in rows
    ]


# --- runs and annotation effort --------------------------------------------------------


def _bucket(first: datetime | None, last: datetime | None):
    """Minutes for a short span, hours or days for longer ones: at most a few thousand points."""
    span = (last - first) if first and last else timedelta(0)
    if span <= timedelta(hours=36):
        return "minute", TruncMinute
    if span <= timedelta(days=90):
        return "hour", TruncHour
    return "day", TruncDay


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def run_throughput(*, project: Project, filters: Filters) -> list[dict[str, Any]]:
    """Traces written by runs per time bucket and model."""
    queryset = Trace.objects.filter(
        filters.q(), project=project, origin=Trace.Origin.RUN
    ).order_by()
    span = queryset.aggregate(first=Min("created_at"), last=Max("created_at"))
    unit, trunc = _bucket(span["first"], span["last"])
    rows = (
        queryset.annotate(bucket=trunc("created_at"))
        .values("bucket", "model_name")
        .annotate(
            traces=Count("id"),
            failed=Count("id", filter=Q(state=Trace.State.FAILED)),
            completion_tokens=Sum("completion_tokens"),
        )
        .order_by("bucket", "model_name")
    )
    return [
        {
            "time": _iso(r["bucket"]),
            "unit": unit,
            "model": r["model_name"],
            "traces": r["traces"],
            "failed": r["failed"],
            "completion_tokens": r["completion_tokens"] or 0,
        }
        for r in rows
    ]


def annotations(*, project: Project, filters: Filters) -> QuerySet[Annotation]:
    return Annotation.objects.filter(
        filters.q("trace__", time_field="created_at"), project=project
    ).order_by()


def annotation_progress(*, project: Project, filters: Filters) -> list[dict[str, Any]]:
    """Annotations per annotator and state, with the mean time spent on submitted ones."""
    rows = (
        annotations(project=project, filters=filters)
        .values("annotator__username", "state")
        .annotate(
            annotations=Count("id"),
            seconds=Sum("time_spent_seconds"),
        )
        .order_by("annotator__username", "state")
    )
    return [
        {
            "annotator": r["annotator__username"],
            "state": r["state"],
            "annotations": r["annotations"],
            "mean_seconds": _round(r["seconds"] / r["annotations"], 1)
            if r["annotations"]
            else None,
        }
        for r in rows
    ]


def annotation_coverage(*, project: Project, filters: Filters) -> dict[str, Any]:
    """How many traces have the project's ``overlap`` of submitted or accepted annotations."""
    done = Count("annotations", filter=Q(annotations__state__in=DONE_STATES))
    per_trace = traces(project=project, filters=filters).annotate(done=done)
    row = per_trace.aggregate(
        traces=Count("id"),
        started=Count("id", filter=Q(done__gt=0)),
        complete=Count("id", filter=Q(done__gte=project.overlap)),
    )
    return {**row, "overlap": project.overlap}


def annotation_throughput(*, project: Project, filters: Filters) -> list[dict[str, Any]]:
    """Submitted annotations per time bucket and annotator."""
    # The date filter applies to the submission time here.
    queryset = Annotation.objects.filter(
        Q(submitted_at__isnull=False) & _trace_q(filters) & filters.time_q("submitted_at"),
        project=project,
    ).order_by()
    span = queryset.aggregate(first=Min("submitted_at"), last=Max("submitted_at"))
    unit, trunc = _bucket(span["first"], span["last"])
    rows = (
        queryset.annotate(bucket=trunc("submitted_at"))
        .values("bucket", "annotator__username")
        .annotate(submitted=Count("id"), seconds=Sum("time_spent_seconds"))
        .order_by("bucket", "annotator__username")
    )
    return [
        {
            "time": _iso(r["bucket"]),
            "unit": unit,
            "annotator": r["annotator__username"],
            "submitted": r["submitted"],
            "seconds": r["seconds"] or 0,
        }
        for r in rows
    ]


def _trace_q(filters: Filters) -> Q:
    return Filters(run=filters.run, model=filters.model).q("trace__")


# --- hints and branches ----------------------------------------------------------------


def branches(*, project: Project, filters: Filters) -> QuerySet[Trace]:
    """Finished continuations from a hint; the run filter applies to the parent's run."""
    q = Q(parent__isnull=False, state=Trace.State.READY) & filters.time_q("created_at")
    if filters.run is not None:
        q &= Q(parent__run_id=filters.run)
    if filters.model:
        q &= Q(model_name=filters.model)
    return Trace.objects.filter(q, project=project).order_by()


def hint_success(*, project: Project, filters: Filters) -> list[dict[str, Any]]:
    """Per model: branches, how many parents were wrong, and how many of those the hint fixed."""
    rows = (
        branches(project=project, filters=filters)
        .values("model_name")
        .annotate(
            branches=Count("id"),
            correct=Count("id", filter=Q(final_correct=True)),
            parent_wrong=Count("id", filter=Q(parent__final_correct=False)),
            fixed=Count("id", filter=Q(parent__final_correct=False, final_correct=True)),
            broken=Count("id", filter=Q(parent__final_correct=True, final_correct=False)),
        )
        .order_by("model_name")
    )
    return [
        {
            "model": r["model_name"],
            "branches": r["branches"],
            "correct": r["correct"],
            "parent_wrong": r["parent_wrong"],
            "fixed": r["fixed"],
            "broken": r["broken"],
            "success_rate": _ratio(r["fixed"], r["parent_wrong"]),
        }
        for r in rows
    ]


def hint_size(*, project: Project, filters: Filters) -> list[dict[str, Any]]:
    """Hint length as a share of the parent's thinking, in 0.5 % bins.

    Characters stand in for tokens: both sides are measured the same way, so
    the ratio is comparable with CALM's token share.
    """
    ratio = Cast(Length("hint"), FloatField()) / Cast(
        NullIf(F("parent__thinking_chars"), Value(0)), FloatField()
    )
    rows = (
        branches(project=project, filters=filters)
        .exclude(hint="")
        .annotate(ratio=ratio)
        .filter(ratio__isnull=False)
        .annotate(
            bin=Least(Cast(Floor(F("ratio") / HINT_BIN), IntegerField()), Value(HINT_BINS - 1))
        )
        .values("bin")
        .annotate(branches=Count("id"), fixed=Count("id", filter=Q(final_correct=True)))
        .order_by("bin")
    )
    return [
        {
            "share_from": round(r["bin"] * HINT_BIN, 4),
            "share_to": round((r["bin"] + 1) * HINT_BIN, 4) if r["bin"] < HINT_BINS - 1 else None,
            "branches": r["branches"],
            "correct": r["fixed"],
        }
        for r in rows
    ]


# --- agreement --------------------------------------------------------------------------


def agreement(*, project: Project, filters: Filters) -> list[dict[str, Any]]:
    """Inter-annotator agreement for the project and per pair of annotators.

    The statistics (Krippendorff's alpha, Cohen's κ) are the review app's; they
    need every rating of an item together, so they run in Python over the
    submitted annotations of traces the filters select — annotations, not
    traces, and only items with two or more ratings count.
    """
    ratings = review_selectors.project_ratings(project=project)
    if filters != Filters():
        chosen = set(
            annotations(project=project, filters=filters)
            .filter(state__in=DONE_STATES)
            .values_list("trace_id", flat=True)
        )
        ratings = [r for r in ratings if r.item in chosen]
    overall, pairs = stats.agreement_report(ratings)
    names = dict(
        get_user_model()
        .objects.filter(pk__in={r.rater for r in ratings})
        .values_list("pk", "username")
    )

    def row(label: str, report) -> dict[str, Any]:
        return {
            "pair": label,
            "items": report.items,
            "first_error_exact": _round(report.first_error_exact),
            "first_error_within1": _round(report.first_error_within1),
            "step_alpha": _round(report.step_alpha),
            "verdict_kappa": _round(report.verdict_kappa),
        }

    if not overall.items:
        return []
    return [row("all annotators", overall)] + [
        row(f"{names.get(p.raters[0], p.raters[0])} / {names.get(p.raters[1], p.raters[1])}", p)
        for p in pairs
    ]
