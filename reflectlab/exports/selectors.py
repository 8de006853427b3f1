"""What an export reads: annotations (or traces) of a project, filtered, in a fixed order."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import orjson
from django.db.models import Prefetch, QuerySet, TextField
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast

from reflectlab.annotations.models import Annotation
from reflectlab.exports.models import Export
from reflectlab.projects.models import Project
from reflectlab.traces.models import Trace

CHUNK_SIZE = 5000


def export_list(*, project: Project) -> QuerySet[Export]:
    return Export.objects.filter(project=project).select_related("created_by")


def _gold_trace_ids(project: Project) -> QuerySet | None:
    """Gold (quality-control) traces, when the review app provides them."""
    try:
        from reflectlab.review.models import GoldItem
    except ImportError:  # the review app is optional for exports
        return None
    return GoldItem.objects.filter(project=project).values("trace_id")


def annotations_for(*, project: Project, filters: dict[str, Any]) -> QuerySet[Annotation]:
    states = [Annotation.State.ACCEPTED]
    if not filters.get("accepted_only", True):
        states.append(Annotation.State.SUBMITTED)
    qs = Annotation.objects.filter(project=project, state__in=states, trace__parent__isnull=True)
    if filters.get("model"):
        qs = qs.filter(trace__model_name=filters["model"])
    if filters.get("run"):
        qs = qs.filter(trace__run_id=filters["run"])
    if filters.get("annotator"):
        qs = qs.filter(annotator__username=filters["annotator"])
    if filters.get("date_from"):
        qs = qs.filter(created_at__date__gte=dt.date.fromisoformat(filters["date_from"]))
    if filters.get("date_to"):
        qs = qs.filter(created_at__date__lte=dt.date.fromisoformat(filters["date_to"]))
    if filters.get("exclude_gold", True):
        gold = _gold_trace_ids(project)
        if gold is not None:
            qs = qs.exclude(trace_id__in=gold)
    return qs.order_by("id")


JSON_FIELDS = {"step_labels", "violated_principles", "trace__prompt__messages"}


def annotation_rows(
    *, project: Project, filters: dict[str, Any], fields: list[str]
) -> Iterator[dict[str, Any]]:
    """Plain dicts, streamed from a server-side cursor (no model instances).

    JSON columns come back as text and are decoded with orjson: Django's
    stdlib ``json.loads`` converter was a fifth of the export's time.
    """
    plain = [f for f in fields if f not in JSON_FIELDS and "__analysis__" not in f]
    as_text = {}
    for i, f in enumerate(f for f in fields if f not in plain):
        if "__analysis__" in f:
            source, key = f.rsplit("__", 1)
            expr = KeyTextTransform(key, source)
        else:
            expr = Cast(f, TextField())
        as_text[f"json_{i}"] = (f, expr)
    rows = (
        annotations_for(project=project, filters=filters)
        .values(*plain, **{alias: expr for alias, (_, expr) in as_text.items()})
        .iterator(chunk_size=CHUNK_SIZE)
    )
    loads = orjson.loads
    for row in rows:
        for alias, (name, _) in as_text.items():
            value = row.pop(alias)
            row[name] = loads(value) if value is not None else None
        yield row


def traces_for(*, project: Project, filters: dict[str, Any]) -> QuerySet[Trace]:
    annotated = annotations_for(project=project, filters=filters)
    return Trace.objects.filter(
        project=project, parent__isnull=True, pk__in=annotated.values("trace_id")
    ).order_by("id")


def trace_records(*, project: Project, filters: dict[str, Any]) -> Iterator[Trace]:
    annotated = annotations_for(project=project, filters=filters).select_related("annotator")
    try:
        from reflectlab.review.models import Review
    except ImportError:  # the review app is optional for exports
        Review = None
    if Review is not None:
        annotated = annotated.prefetch_related(
            Prefetch(
                "reviews",
                queryset=Review.objects.order_by("id").select_related("reviewer"),
                to_attr="export_reviews",
            )
        )
    return (
        traces_for(project=project, filters=filters)
        .select_related("prompt")
        .prefetch_related(
            Prefetch("annotations", queryset=annotated, to_attr="export_annotations"),
            Prefetch("branches", queryset=Trace.objects.order_by("id"), to_attr="export_branches"),
        )
        .iterator(chunk_size=200)
    )
