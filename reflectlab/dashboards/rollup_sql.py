# ruff: noqa: S608 -- SQL built from the constant column specs below only
"""The triggers that keep the dashboards' rollups exact (PostgreSQL and SQLite).

Every write to ``traces_trace`` — an import's ``bulk_create``, a run's trace,
a branch, a re-analysis's ``bulk_update``, a ``.update()``, a delete or a
cascade from a project, prompt, run or parent — goes through the database, so
the database keeps the rollups: an AFTER trigger appends the change as *delta*
rows (+1 for a trace that now counts, -1 for one that no longer does, summed per
group). Deltas are plain INSERTs into a table without a unique key, so
concurrent imports never wait on each other's rollup rows and cannot deadlock
on them; ``rollups.compact`` later folds a project's deltas into one row per
group. Why triggers and not service code: the Django delete collector and
queryset ``update()`` calls bypass any Python hook, and a rollup that misses one
write path is silently wrong for ever.

A third table, ``PROJECT``, counts *every* trace of a project (any state,
branches too) for the project page and list: the charts' rollups count only
ready first-generation traces, so they cannot give those totals.

PostgreSQL uses statement-level triggers with transition tables (one delta row
per group per statement, so a 500-row ``bulk_create`` appends a few rows);
SQLite, which has only row-level triggers, appends one delta row per trace.

A change to these specs needs a new migration that calls ``install`` again
(it drops and recreates the triggers and rebuilds the rollups).
"""

from __future__ import annotations

TRACES = "traces_trace"
REFLECTION = "dashboards_reflectionrollup"
SHARE = "dashboards_sharerollup"
PROJECT = "dashboards_projectrollup"
CHART_TABLES = (REFLECTION, SHARE)  # what migration 0001 installed
SHARE_BINS, POSITION_BINS = 20, 10  # selectors.SHARE_BINS / POSITION_BINS

# Which traces the reflection charts count (``dashboards.filters.traces``).
COUNTS = "{r}.parent_id IS NULL AND {r}.state = 'ready'"
REFLECTION_COLUMNS = (
    *(f"n_{k}_{s}" for k in ("confirmatory", "corrective") for s in ("tt", "ff", "ft", "tf", "ungraded")),
    "n_pre_answer",
    "n_trailing",
)  # fmt: skip


def _flag(condition: str) -> str:
    return f"CASE WHEN {condition} THEN 1 ELSE 0 END"


# (rollup column, SQL over a trace row {r}); keys first, then the additive sums.
GROUP = {"project_id": "{r}.project_id", "model_name": "{r}.model_name", "run_id": "{r}.run_id"}
REFLECTION_KEYS = {**GROUP, "n_reflection_steps": "{r}.n_reflection_steps"}
REFLECTION_SUMS = {
    "traces": "1",
    "graded": _flag("{r}.final_correct IS NOT NULL"),
    "correct": _flag("{r}.final_correct"),
    "corrective": _flag("{r}.has_corrective"),
    "truncated": _flag("{r}.truncated"),
    "truncated_no_answer": _flag("{r}.outcome = 'truncated_no_answer'"),
    "truncated_reached": _flag(
        "{r}.outcome = 'truncated_no_answer' AND {r}.answer_reached_step IS NOT NULL"
    ),
    "reflection_share": "{r}.reflection_share",
    "thinking_chars": "{r}.thinking_chars",
    **{c: f"{{r}}.{c}" for c in REFLECTION_COLUMNS},
}
SHARE_SUMS = {"traces": "1"}
# The project page's counts (``projects.selectors.project_stats``), over every trace.
PROJECT_KEYS = {"project_id": "{r}.project_id"}
PROJECT_SUMS = {
    "traces": "1",
    "reflective": _flag("{r}.has_reflection"),
    "correct": _flag("{r}.final_correct"),
    "wrong": _flag("NOT {r}.final_correct"),
    "truncated": _flag("{r}.truncated"),
}
PROJECT_SOURCE_COLUMNS = ("project_id", "has_reflection", "final_correct", "truncated")
# Every trace column the rollups read: an UPDATE that changes none of them is no change.
SOURCE_COLUMNS = (
    "parent_id", "state", "created_at", "project_id", "model_name", "run_id",
    "n_reflection_steps", "final_correct", "has_corrective", "truncated", "outcome",
    "answer_reached_step", "reflection_share", "thinking_chars", "first_candidate_position",
    *REFLECTION_COLUMNS,
)  # fmt: skip


def _vendor_exprs(vendor: str) -> tuple[str, dict[str, str]]:
    """The day and the two bins, as ``selectors._bins`` computes them (floor, last bin
    closed, NULL kept), in the vendor's SQL. Fractions are never negative, so SQLite's
    truncating CAST is the floor."""
    if vendor == "postgresql":
        day = "({r}.created_at AT TIME ZONE 'UTC')::date"

        def binned(column: str, bins: int) -> str:
            return f"LEAST(FLOOR({{r}}.{column} * {bins})::integer, {bins - 1})"
    else:
        day = "date({r}.created_at)"

        def binned(column: str, bins: int) -> str:
            return f"MIN(CAST({{r}}.{column} * {bins} AS INTEGER), {bins - 1})"

    position = binned("first_candidate_position", POSITION_BINS)
    return day, {
        "share_bin": binned("reflection_share", SHARE_BINS),
        "position_bin": f"CASE WHEN {{r}}.first_candidate_position IS NULL THEN NULL ELSE {position} END",
    }


Spec = tuple[str, dict[str, str], dict[str, str], str | None]


def _specs(vendor: str, tables: tuple[str, ...] | None = None) -> list[Spec]:
    """(table, keys, sums, which traces count — None: all) for the rollups in ``tables``."""
    day, bins = _vendor_exprs(vendor)
    keys = {"day": day}
    specs = [
        (REFLECTION, {**keys, **REFLECTION_KEYS}, REFLECTION_SUMS, COUNTS),
        (SHARE, {**keys, **GROUP, **bins}, SHARE_SUMS, COUNTS),
        (PROJECT, PROJECT_KEYS, PROJECT_SUMS, None),
    ]
    return [spec for spec in specs if tables is None or spec[0] in tables]


def _fill(template: str, alias: str) -> str:
    return template.replace("{r}", alias)


def _aggregate(table: str, keys: dict, sums: dict, source: str, *, compacted: bool) -> str:
    """INSERT … SELECT the signed sums of ``source`` (rows with a ``sign``) per group."""
    key_sql = [_fill(e, "r") for e in keys.values()]
    sum_sql = [f"SUM(r.sign * ({_fill(e, 'r')}))" for e in sums.values()]
    columns = [*keys, *sums, "compacted"]
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) "
        f"SELECT {', '.join(key_sql + sum_sql)}, {'TRUE' if compacted else 'FALSE'} "
        f"FROM ({source}) r GROUP BY {', '.join(key_sql)} "
        f"HAVING {' OR '.join(f'{s} <> 0' for s in sum_sql)}"
    )


def _signed(table: str, sign: int, counts: str | None) -> str:
    return f"SELECT {sign} AS sign, t.* FROM {table} t WHERE {_fill(counts or 'TRUE', 't')}"


def rebuild_sql(
    vendor: str, *, project_id: int | None = None, tables: tuple[str, ...] | None = None
) -> list[str]:
    """Statements that recompute the rollups from the traces (all, or one project's)."""
    where = "" if project_id is None else f" WHERE project_id = {int(project_id)}"
    statements = []
    for table, keys, sums, counts in _specs(vendor, tables):
        statements.append(f"DELETE FROM {table}{where}")
        source = _signed(TRACES, 1, counts) + (
            "" if project_id is None else f" AND t.project_id = {int(project_id)}"
        )
        statements.append(_aggregate(table, keys, sums, source, compacted=True))
    return statements


def _postgresql(tables: tuple[str, ...] | None) -> list[str]:
    statements = []
    for event, source in (
        ("INSERT", lambda c: _signed("new_rows", 1, c)),
        ("DELETE", lambda c: _signed("old_rows", -1, c)),
        ("UPDATE", lambda c: f"{_signed('old_rows', -1, c)} UNION ALL {_signed('new_rows', 1, c)}"),
    ):
        name = f"dashboards_rollup_{event.lower()}"
        body = ";\n".join(
            _aggregate(table, keys, sums, source(counts), compacted=False)
            for table, keys, sums, counts in _specs("postgresql", tables)
        )
        transition = {
            "INSERT": "NEW TABLE AS new_rows",
            "DELETE": "OLD TABLE AS old_rows",
            "UPDATE": "OLD TABLE AS old_rows NEW TABLE AS new_rows",
        }[event]
        statements += [
            f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$\n"
            f"BEGIN\n{body};\nRETURN NULL;\nEND $$",
            f"DROP TRIGGER IF EXISTS {name} ON {TRACES}",
            f"CREATE TRIGGER {name} AFTER {event} ON {TRACES} REFERENCING {transition} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {name}()",
        ]
    return statements


SQLITE_TRIGGERS = ("insert", "delete", "update_old", "update_new")


def _sqlite_triggers(prefix: str, counts: str | None, columns: tuple[str, ...]) -> dict:
    """name: (event, WHEN, the row, its sign) for the rollups that count ``counts``."""
    changed = " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in columns)
    old, new = _fill(counts or "1", "OLD"), _fill(counts or "1", "NEW")
    return {
        f"{prefix}_insert": ("INSERT", new, "NEW", 1),
        f"{prefix}_delete": ("DELETE", old, "OLD", -1),
        f"{prefix}_update_old": ("UPDATE", f"({old}) AND ({changed})", "OLD", -1),
        f"{prefix}_update_new": ("UPDATE", f"({new}) AND ({changed})", "NEW", 1),
    }


def _sqlite(tables: tuple[str, ...] | None) -> list[str]:
    """Row triggers: one set for the charts' rollups (ready roots), one for ``PROJECT``."""
    specs = _specs("sqlite", tables)
    groups = [
        ("dashboards_rollup", COUNTS, SOURCE_COLUMNS, [s for s in specs if s[3] is not None]),
        ("dashboards_projectrollup", None, PROJECT_SOURCE_COLUMNS, [s for s in specs if s[3] is None]),
    ]  # fmt: skip
    statements = []
    for prefix, counts, columns, chosen in groups:
        if chosen:
            statements += _sqlite_group(_sqlite_triggers(prefix, counts, columns), chosen)
    return statements


def _sqlite_group(triggers: dict, specs: list[Spec]) -> list[str]:
    statements = []
    for name, (event, when, row, sign) in triggers.items():
        inserts = []
        for table, keys, sums, _ in specs:
            values = [_fill(e, row) for e in keys.values()]
            values += [f"{sign} * ({_fill(e, row)})" for e in sums.values()]
            inserts.append(
                f"INSERT INTO {table} ({', '.join([*keys, *sums, 'compacted'])}) "
                f"VALUES ({', '.join(values)}, 0);"
            )
        statements += [
            f"DROP TRIGGER IF EXISTS {name}",
            f"CREATE TRIGGER {name} AFTER {event} ON {TRACES} FOR EACH ROW WHEN {when} "
            f"BEGIN {' '.join(inserts)} END",
        ]
    return statements


def install_sql(vendor: str, *, tables: tuple[str, ...] | None = None) -> list[str]:
    """The triggers, then a full rebuild (so install is also the repair).

    ``tables``: only these rollups (a migration installs what its tables allow:
    0001 had no ``PROJECT``); by default all of them."""
    triggers = _postgresql(tables) if vendor == "postgresql" else _sqlite(tables)
    return uninstall_sql(vendor) + triggers + rebuild_sql(vendor, tables=tables)


def uninstall_sql(vendor: str) -> list[str]:
    if vendor == "postgresql":
        return [
            sql
            for e in ("insert", "delete", "update")
            for sql in (
                f"DROP TRIGGER IF EXISTS dashboards_rollup_{e} ON {TRACES}",
                f"DROP FUNCTION IF EXISTS dashboards_rollup_{e}()",
            )
        ]
    return [
        f"DROP TRIGGER IF EXISTS {prefix}_{e}"
        for prefix in ("dashboards_rollup", "dashboards_projectrollup")
        for e in SQLITE_TRIGGERS
    ]
