# ruff: noqa: S608 -- SQL built from model table and column names only
"""Reading the reflection charts' rollups (``models``), and folding their deltas.

``selectors.by_reflection_count`` and ``selectors.by_share_and_position`` read
these when the filters fall on whole UTC days (always, unless the current time
zone is not UTC and a date filter is set); they return the same rows as the
direct scans of ``trace_charts`` (``tests/dashboards/test_rollups.py`` checks
that on random data after every write path).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import Model, Q, QuerySet, Sum

from reflectlab.dashboards import rollup_sql
from reflectlab.dashboards.filters import Filters
from reflectlab.dashboards.models import ProjectRollup, ReflectionRollup, ShareRollup
from reflectlab.projects.models import Project

Rows = list[dict[str, Any]]
REFLECTION_SUMS = tuple(rollup_sql.REFLECTION_SUMS)
REFLECTION_KEYS = ("day", *rollup_sql.REFLECTION_KEYS)
SHARE_KEYS = ("day", *rollup_sql.GROUP, "share_bin", "position_bin")
PROJECT_SUMS = tuple(rollup_sql.PROJECT_SUMS)
# model: (group keys, sums, whether deltas are folded per dirty day)
COMPACTION = {
    ReflectionRollup: (REFLECTION_KEYS, REFLECTION_SUMS, True),
    ShareRollup: (SHARE_KEYS, ("traces",), True),
    ProjectRollup: (tuple(rollup_sql.PROJECT_KEYS), PROJECT_SUMS, False),
}


def answers(filters: Filters) -> bool:
    """Whether the rollups' UTC days can answer these filters exactly."""
    return all(bound is None or bound.utcoffset() == timedelta(0) for bound in filters.time_range())


def _rows(model: type[Model], *, project: Project, filters: Filters) -> QuerySet:
    compact(model, project_id=project.pk)
    q = Q(project_id=project.pk)
    if filters.run is not None:
        q &= Q(run_id=filters.run)
    if filters.model:
        q &= Q(model_name=filters.model)
    if filters.date_from:
        q &= Q(day__gte=filters.date_from)
    if filters.date_to:
        q &= Q(day__lte=filters.date_to)
    return model.objects.filter(q).order_by()


def by_reflection_count(*, project: Project, filters: Filters) -> Rows:
    rows = (
        _rows(ReflectionRollup, project=project, filters=filters)
        .values("model_name", "n_reflection_steps")
        .annotate(**{name: Sum(name) for name in REFLECTION_SUMS})
        .filter(traces__gt=0)
        .order_by("model_name", "n_reflection_steps")
    )
    return [
        {
            **row,
            "model": row.pop("model_name"),
            "reflection_steps": row.pop("n_reflection_steps"),
        }
        for row in rows
    ]


def by_share_and_position(*, project: Project, filters: Filters) -> Rows:
    rows = (
        _rows(ShareRollup, project=project, filters=filters)
        .values("model_name", "share_bin", "position_bin")
        .annotate(traces=Sum("traces"))
        .filter(traces__gt=0)
        .order_by("model_name", "share_bin", "position_bin")
    )
    return [{**row, "model": row.pop("model_name")} for row in rows]


def project_totals(*, project: Project) -> dict[str, int]:
    """Every trace of the project: total, with reflection, correct, wrong, truncated
    (what ``COUNT``s over the traces give; ``tests/projects/test_stats.py``)."""
    compact(ProjectRollup, project_id=project.pk)
    sums = ProjectRollup.objects.filter(project_id=project.pk).aggregate(
        **{name: Sum(name) for name in PROJECT_SUMS}
    )
    return {"total" if k == "traces" else k: v or 0 for k, v in sums.items()}


def fold_project_totals(*, project_ids: QuerySet | list[int]) -> None:
    """Compact the project totals of those projects that have deltas (the project list)."""
    dirty = (
        ProjectRollup.objects.filter(project_id__in=project_ids, compacted=False)
        .values_list("project_id", flat=True)
        .distinct()
    )
    for project_id in list(dirty):
        compact(ProjectRollup, project_id=project_id)


def compact(model: type[Model], *, project_id: int) -> None:
    """Fold the project's delta rows into one row per group, for the days that have any
    (``ProjectRollup``, which has no days: all the project's rows).

    On PostgreSQL the DELETE … RETURNING and the INSERT of the sums are one
    statement, so a delta committed meanwhile is either folded or left for the
    next time, never lost; two compactions at once each fold what they deleted.
    """
    table = model._meta.db_table
    keys, sums, by_day = COMPACTION[model]
    columns = ", ".join([*keys, *sums, "compacted"])
    key_list = ", ".join(keys)
    summed = ", ".join(f"SUM({s})" for s in sums)
    dirty = f"SELECT DISTINCT day FROM {table} WHERE project_id = %s AND NOT compacted"
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"SELECT 1 FROM {table} WHERE project_id = %s AND NOT compacted LIMIT 1", [project_id]
        )
        if cursor.fetchone() is None:
            return
        if connection.vendor == "postgresql":
            days, args = (f" AND day IN ({dirty})", [project_id]) if by_day else ("", [])
            cursor.execute(
                f"WITH gone AS (DELETE FROM {table} WHERE project_id = %s{days} "
                f"RETURNING *) INSERT INTO {table} ({columns}) SELECT {key_list}, {summed}, TRUE "
                f"FROM gone GROUP BY {key_list} HAVING SUM(traces) <> 0",
                [project_id, *args],
            )
            return
        # SQLite has one writer at a time: fold the rows up to now, then drop them.
        cursor.execute(f"SELECT MAX(id) FROM {table}")
        (last,) = cursor.fetchone()
        chosen, args = "project_id = %s AND id <= %s", [project_id, last]
        if by_day:
            chosen += f" AND day IN ({dirty} AND id <= %s)"
            args += [project_id, last]
        cursor.execute(
            f"INSERT INTO {table} ({columns}) SELECT {key_list}, {summed}, 1 FROM {table} "
            f"WHERE {chosen} GROUP BY {key_list} HAVING SUM(traces) <> 0",
            args,
        )
        cursor.execute(f"DELETE FROM {table} WHERE {chosen}", args)


def rebuild(*, project: Project | None = None) -> None:
    """Recompute the rollups from the traces (a repair; the triggers keep them exact)."""
    with transaction.atomic(), connection.cursor() as cursor:
        for sql in rollup_sql.rebuild_sql(
            connection.vendor, project_id=None if project is None else project.pk
        ):
            cursor.execute(sql)
