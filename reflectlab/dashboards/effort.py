"""The dashboards' queries about work: runs, annotation, hints, agreement.

Like ``selectors`` (the reflection charts), every number is computed by the
database and returned as plain rows; the loops run over aggregated rows.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Count, F, FloatField, IntegerField, Max, Min, Q, QuerySet, Sum, Value
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

from reflectlab.annotations.models import Annotation
from reflectlab.dashboards.filters import Filters, ratio, rounded, traces
from reflectlab.projects.models import Project
from reflectlab.review import agreement as stats
from reflectlab.review import selectors as review_selectors
from reflectlab.traces.models import Trace

DONE_STATES = (Annotation.State.SUBMITTED, Annotation.State.ACCEPTED)
HINT_BIN = 0.005  # 0.5 % of the parent's thinking
HINT_BINS = 12  # the last bin holds everything from 5.5 % up


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
    """Traces written by runs per time bucket and model.

    ``run__isnull=False`` (true of every run trace) lets both queries read only
    the partial ``trace_runs`` index; hence COUNT(*), not COUNT(id).
    """
    queryset = Trace.objects.filter(
        filters.q(), project=project, origin=Trace.Origin.RUN, run__isnull=False
    ).order_by()
    span = queryset.aggregate(first=Min("created_at"), last=Max("created_at"))
    unit, trunc = _bucket(span["first"], span["last"])
    rows = (
        queryset.annotate(bucket=trunc("created_at"))
        .values("bucket", "model_name")
        .annotate(
            traces=Count("*"),
            failed=Count("state", filter=Q(state=Trace.State.FAILED)),
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
            "mean_seconds": rounded(r["seconds"] / r["annotations"], 1)
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
    """Finished continuations from a hint; the run filter applies to the parent's run.

    The parent's grading and thinking length are read from the copies on the
    branch (``parent_final_correct``, ``parent_thinking_chars``, kept by the
    database), so no chart joins branches to parents.
    """
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
            # COUNT of an indexed column, not of id, keeps it index-only (trace_branches).
            branches=Count("*"),
            correct=Count("state", filter=Q(final_correct=True)),
            parent_wrong=Count("state", filter=Q(parent_final_correct=False)),
            fixed=Count("state", filter=Q(parent_final_correct=False, final_correct=True)),
            broken=Count("state", filter=Q(parent_final_correct=True, final_correct=False)),
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
            "success_rate": ratio(r["fixed"], r["parent_wrong"]),
        }
        for r in rows
    ]


def hint_size(*, project: Project, filters: Filters) -> list[dict[str, Any]]:
    """Hint length as a share of the parent's thinking, in 0.5 % bins.

    Characters stand in for tokens: both sides are measured the same way, so
    the ratio is comparable with CALM's token share.
    """
    ratio = Cast(Length("hint"), FloatField()) / Cast(
        NullIf(F("parent_thinking_chars"), Value(0)), FloatField()
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
            "first_error_exact": rounded(report.first_error_exact),
            "first_error_within1": rounded(report.first_error_within1),
            "step_alpha": rounded(report.step_alpha),
            "verdict_kappa": rounded(report.verdict_kappa),
        }

    if not overall.items:
        return []
    return [row("all annotators", overall)] + [
        row(f"{names.get(p.raters[0], p.raters[0])} / {names.get(p.raters[1], p.raters[1])}", p)
        for p in pairs
    ]
