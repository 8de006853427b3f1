# ruff: noqa: S608 -- synthetic data; SQL built from model table and column names only
"""Synthetic projects of N traces for the scale benchmarks, COPYed into PostgreSQL.

Every trace carries a stored ``analysis`` shaped like the analyser's (steps with
offsets, metrics, labelled reflections; ~3 KB, so PostgreSQL TOASTs it as it
does real ones) and the columns the app copies out of it, so the same rows can
be read the old way (the JSON) and the new way (the columns) in one run.
"""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta

import orjson

MODELS = (
    "deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B",
    "Qwen/QwQ-32B",
    "Qwen/Qwen3-8B",
    "microsoft/phi-4-reasoning",
    "openai/gpt-oss-20b",
)
KINDS = ("confirmatory", "corrective", "pre_answer", "trailing")
TRANSITIONS = ("T→T", "F→F", "F→T", "T→F", None)
T0 = datetime(2026, 10, 1, tzinfo=UTC)


def _analysis(rng: random.Random, n_reflection: int, position: float | None) -> dict:
    steps = []
    offset = 0
    for i in range(24):
        end = offset + rng.randint(80, 400)
        kind = "reflection" if i < n_reflection else "execution"
        steps.append(
            {"index": i, "start": offset, "end": end, "kind": kind, "cue": None,
             "cue_start": None, "cue_end": None, "subtype": None}
        )  # fmt: skip
        offset = end + 2
    reflections = []
    for _ in range(min(n_reflection, 6)):
        kind = rng.choice(KINDS)
        transition = rng.choice(TRANSITIONS) if kind in KINDS[:2] else None
        reflections.append({"kind": kind, "transition": transition, "steps": [1, 2]})
    return {
        "version": "bench",
        "steps": steps,
        "reflections": reflections,
        "metrics": {"first_candidate_position": position, "reflection_steps": n_reflection},
    }


def _counts(analysis: dict) -> dict[str, int]:
    from reflectlab.traces.analysis import reflection_counts

    return reflection_counts(analysis["reflections"])


def populate(*, project_id: int, n_traces: int, seed: int = 16) -> float:
    """COPY ``n_traces`` traces (and a prompt per 10) into the project; returns seconds."""
    from django.db import connection

    from reflectlab.dashboards import rollups
    from reflectlab.projects.models import Project
    from reflectlab.prompts.models import Prompt
    from reflectlab.traces.models import Trace

    rng = random.Random(seed)
    started = time.perf_counter()
    trace_table = Trace._meta.db_table
    prompt_table = Prompt._meta.db_table
    n_prompts = max(1, n_traces // 10)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {prompt_table}")
        first_prompt = cursor.fetchone()[0] + 1
        cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {trace_table}")
        first_trace = cursor.fetchone()[0] + 1
    prompt_rows = [
        {
            "id": first_prompt + i,
            "project_id": project_id,
            "external_id": f"p{project_id}-{i}",
            "text": f"Problem {i}: a shop sells {i % 97} apples a day for {i % 13} days.",
            "reference_answer": str(i % 97),
            "created_at": T0,
        }
        for i in range(n_prompts)
    ]
    _copy(Prompt, prompt_rows)

    def traces():
        for i in range(n_traces):
            n_reflection = min(int(rng.expovariate(0.3)), 40)
            position = None if rng.random() < 0.1 else round(rng.random(), 3)
            analysis = _analysis(rng, n_reflection, position)
            correct = None if rng.random() < 0.05 else rng.random() < 0.7
            branch = i % 100 == 99
            yield {
                "id": first_trace + i,
                "project_id": project_id,
                "prompt_id": first_prompt + (i % n_prompts),
                "origin": "regeneration" if branch else "import",
                "state": "ready",
                "external_id": None if branch else f"t{project_id}-{i}",
                "parent_id": first_trace + i - 1 if branch else None,
                "hint": "Check the units again." if branch else "",
                "model_name": MODELS[i % len(MODELS)],
                "raw_response": f"Step one of trace {i}.\n\nWait, let me check.\n</think>\n"
                f"The answer is \\boxed{{{i % 97}}}.",
                "analysis": orjson.dumps(analysis).decode(),
                "analyzer_version": "bench",
                "n_steps": 24,
                "n_reflection_steps": n_reflection,
                "has_reflection": n_reflection > 0,
                "has_corrective": any(r["kind"] == "corrective" for r in analysis["reflections"]),
                "truncated": rng.random() < 0.03,
                "final_answer": str(i % 97),
                "final_correct": correct,
                "first_correct": correct,
                "reflection_share": round(min(1.0, n_reflection / 24), 4),
                "thinking_chars": rng.randint(2000, 9000),
                "first_candidate_position": position,
                "created_at": T0 + timedelta(seconds=i * 2),
                **_counts(analysis),
            }

    # A bulk load: the rollup triggers off for the COPY, then one rebuild (as the
    # migration does), instead of a 1M-row transition table.
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {trace_table} DISABLE TRIGGER dashboards_rollup_insert")
    _copy(Trace, traces())
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {trace_table} ENABLE TRIGGER dashboards_rollup_insert")
    rollup_started = time.perf_counter()
    rollups.rebuild(project=Project.objects.get(pk=project_id))
    print(f"rollups rebuilt in {time.perf_counter() - rollup_started:.1f}s")
    with connection.cursor() as cursor:
        for table in (prompt_table, trace_table):
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT MAX(id) FROM {table}))"
            )
        cursor.execute(f"VACUUM ANALYZE {trace_table}")
        cursor.execute(f"VACUUM ANALYZE {prompt_table}")
    return time.perf_counter() - started


def _copy(model, rows) -> None:
    """COPY dicts into ``model``'s table; NOT NULL columns not given get '' / 0 / false."""
    from django.db import connection

    fields = list(model._meta.concrete_fields)
    names = [f.column for f in fields]

    def filler(field):
        if field.null:
            return None
        kind = field.get_internal_type()
        if kind == "BooleanField":
            return False
        if "Integer" in kind or kind in ("FloatField", "DecimalField"):
            return 0
        if kind == "JSONField":
            return "{}"
        return ""

    defaults = {f.column: filler(f) for f in fields}
    table = connection.ops.quote_name(model._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(n) for n in names)
    connection.ensure_connection()
    with (
        connection.connection.cursor() as cursor,
        cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row([row.get(n, defaults[n]) for n in names])
    connection.commit() if not connection.get_autocommit() else None
