from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from reflectlab.projects.models import Project
from reflectlab.traces.models import Trace

LIST_FIELDS = (
    "id",
    "project_id",
    "prompt_id",
    "prompt__external_id",
    "prompt__text",
    "origin",
    "state",
    "model_name",
    "n_steps",
    "n_reflection_steps",
    "has_reflection",
    "has_corrective",
    "truncated",
    "final_answer",
    "final_correct",
    "first_correct",
    "reflection_share",
    "thinking_chars",
    "created_at",
    "parent_id",
    "external_id",
)


def trace_list(*, project: Project, filters: dict[str, Any] | None = None) -> QuerySet[Trace]:
    """Traces of a project, filtered by validated filters; the heavy text stays unloaded."""
    filters = filters or {}
    queryset = (
        Trace.objects.filter(project=project)
        .select_related("prompt")
        .only(*LIST_FIELDS)
        .order_by("id")
    )
    if filters.get("model"):
        queryset = queryset.filter(model_name=filters["model"])
    for name in ("final_correct", "has_reflection", "has_corrective", "truncated"):
        value = filters.get(name)
        if value is not None:
            queryset = queryset.filter(**{name: value})
    if filters.get("state"):
        queryset = queryset.filter(state=filters["state"])
    if filters.get("origin"):
        queryset = queryset.filter(origin=filters["origin"])
    if filters.get("prompt"):
        queryset = queryset.filter(prompt_id=filters["prompt"])
    if filters.get("q"):
        queryset = queryset.filter(prompt__text__icontains=filters["q"])
    return queryset


def model_names(*, project: Project) -> list[str]:
    return list(
        Trace.objects.filter(project=project)
        .exclude(model_name="")
        .values_list("model_name", flat=True)
        .distinct()
        .order_by("model_name")
    )


def trace_detail(*, trace_id: int) -> QuerySet[Trace]:
    return Trace.objects.select_related("prompt", "project", "parent", "run")
