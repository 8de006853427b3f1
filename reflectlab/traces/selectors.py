from __future__ import annotations

from django.core.cache import cache
from django.db import connection
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
    "outcome",
    "answer_reached_step",
    "reflection_share",
    "thinking_chars",
    "created_at",
    "parent_id",
    "external_id",
)


def trace_list(*, project: Project) -> QuerySet[Trace]:
    """Traces of a project in id order (what keyset pages walk), the heavy text unloaded.

    Filter it with ``traces.filters.TraceFilterSet``.
    """
    return (
        Trace.objects.filter(project=project)
        .select_related("prompt")
        .only(*LIST_FIELDS)
        .order_by("id")
    )


MODEL_NAMES_TTL = 600


def model_names(*, project: Project) -> list[str]:
    """The project's distinct model names, for filter menus and chart colours.

    Cached under the project's newest trace id (one index probe), so an
    import, a run or a regeneration that adds a model shows at once. On a
    miss the names are read with a loose index scan of (project, model_name,
    id): one index probe per distinct name, instead of a DISTINCT over every
    trace (~20k pages at 1M traces).
    """
    newest = Trace.objects.filter(project=project).order_by("-id").values_list("id", flat=True)[:1]
    key = f"traces:model-names:{project.pk}:{next(iter(newest), 0)}"
    names = cache.get(key)
    if names is None:
        names = _distinct_model_names(project.pk)
        cache.set(key, names, MODEL_NAMES_TTL)
    return names


def _distinct_model_names(project_id: int) -> list[str]:
    table = connection.ops.quote_name(Trace._meta.db_table)
    sql = f"""
        WITH RECURSIVE names(name) AS (
            SELECT (SELECT model_name FROM {table} WHERE project_id = %s
                    ORDER BY model_name LIMIT 1)
            UNION ALL
            SELECT (SELECT model_name FROM {table} WHERE project_id = %s AND model_name > name
                    ORDER BY model_name LIMIT 1)
            FROM names WHERE name IS NOT NULL
        )
        SELECT name FROM names WHERE name IS NOT NULL AND name <> ''
    """  # noqa: S608 - only a quoted table name is interpolated
    with connection.cursor() as cursor:
        cursor.execute(sql, [project_id, project_id])
        return [row[0] for row in cursor.fetchall()]


def trace_detail(*, trace_id: int) -> QuerySet[Trace]:
    return Trace.objects.select_related("prompt", "project", "parent", "run")
