#!/usr/bin/env python
# ruff: noqa: S608 -- SQL here is built from model table names and integers only
"""Export benchmark (DESIGN §11): 100,000 preference rows to JSONL on PostgreSQL.

    .venv/bin/python bench/bench_export.py [--rows 100000] [--small 10000]

Creates a throwaway database ``reflectlab_bench_export`` next to BENCH_DATABASE_URL
(default postgres://postgres@127.0.0.1:5432/reflectlab_bench) — like every bench,
never the app's DATABASE_URL — migrates it, COPYs in
synthetic accepted annotations with hint branches, then prints:

- rows/s of the real export path (services.export_execute → preference JSONL),
  and its ratio to ``COPY (SELECT prompt, chosen, rejected …) TO STDOUT`` of the
  same text columns (target ≥ 0.5);
- peak RSS (ru_maxrss) of a fresh process exporting the small and the large
  project (target: within +50 MB).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DB_NAME = "reflectlab_bench_export"
BASE_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/reflectlab_bench"
)


def db_url(name: str) -> str:
    parts = urlsplit(BASE_URL)
    return urlunsplit(parts._replace(path=f"/{name}"))


def setup_django() -> None:
    os.environ["DATABASE_URL"] = db_url(DB_NAME)
    os.environ.setdefault("DEBUG", "1")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "reflectlab.settings")
    import django

    django.setup()


def create_database() -> None:
    import psycopg

    with psycopg.connect(db_url("postgres"), autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DB_NAME}")


STEP = "Next we compute the partial sum carefully, keeping every term: {i} + {j} = {k}. "
PROMPT = "A shop sells {n} apples a day for {d} days and then {m} more on the last day. How many apples did it sell in total? Show your reasoning."


def response(n: int, final: int, steps: int = 12) -> str:
    body = "\n\n".join(STEP.format(i=n + s, j=s, k=n + 2 * s) * 2 for s in range(steps))
    return f"{body}\n</think>\n\nThe answer is \\boxed{{{final}}}."


def insert(project_rows: list[tuple[int, int]]) -> None:
    """COPY in prompts, wrong traces, correct branches and accepted annotations."""
    import orjson
    from django.contrib.auth import get_user_model
    from django.db import connection

    from reflectlab.annotations.models import Annotation
    from reflectlab.projects.models import Project
    from reflectlab.prompts.models import Prompt
    from reflectlab.traces.models import Trace

    user = get_user_model().objects.create(username="bench")
    next_prompt = next_trace = next_annotation = 1

    def copy(model, columns, rows):
        table = model._meta.db_table
        sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
        with connection.cursor() as cur, cur.cursor.copy(sql) as cp:
            for row in rows:
                cp.write_row(row)

    trace_cols = [
        "id", "project_id", "prompt_id", "origin", "state", "external_id", "model_name",
        "raw_response", "reasoning", "finish_reason", "error", "parent_id", "branch_step",
        "hint", "continuation_mode", "continuation_prefix_chars", "analysis",
        "analyzer_version", "n_steps", "n_reflection_steps", "has_reflection",
        "has_corrective", "truncated", "final_answer", "final_correct", "reflection_share",
        "thinking_chars", "created_at",
    ]  # fmt: skip
    now = "2026-01-01T00:00:00+00:00"
    for project_id, n in project_rows:
        Project.objects.create(id=project_id, name=f"bench {n}")
        prompts = max(1, n // 5)
        copy(
            Prompt,
            ["id", "project_id", "external_id", "text", "reference_answer", "metadata", "created_at"],
            (
                (next_prompt + i, project_id, f"b{project_id}-{i}",
                 PROMPT.format(n=i, d=3, m=7), str(i), "{}", now)
                for i in range(prompts)
            ),
        )  # fmt: skip
        steps = orjson.dumps({"steps": [{"index": 0, "start": 0, "end": 10}]}).decode()

        def traces(first_prompt=next_prompt, first_trace=next_trace, pid=project_id, n=n,
                   prompts=prompts, steps=steps):  # fmt: skip
            for i in range(n):
                prompt_id = first_prompt + i % prompts
                wrong = response(i, i + 1)
                yield (
                    first_trace + 2 * i,
                    pid,
                    prompt_id,
                    "import",
                    "ready",
                    f"t{pid}-{i}",
                    "bench/model",
                    wrong,
                    "",
                    "stop",
                    "",
                    None,
                    None,
                    "",
                    "",
                    None,
                    steps,
                    "1",
                    12,
                    0,
                    False,
                    False,
                    False,
                    str(i + 1),
                    False,
                    0.0,
                    len(wrong),
                    now,
                )
                prefix = wrong[: len(wrong) // 3]
                hint = "Hint: recheck the second partial sum."
                branch = prefix + hint + "\n\n" + response(i, i)
                yield (first_trace + 2 * i + 1, pid, prompt_id, "regeneration", "ready", None,
                       "bench/model", branch, "", "stop", "", first_trace + 2 * i, 1, hint,
                       "raw_completion", len(prefix) + len(hint), steps, "1", 12, 0, False,
                       False, False, str(i), True, 0.0, len(branch), now)  # fmt: skip

        copy(Trace, trace_cols, traces())
        copy(
            Annotation,
            ["id", "project_id", "trace_id", "annotator_id", "step_labels", "first_error_step",
             "error_category", "hint", "hint_step", "branch_id", "critique", "verdict",
             "violated_principles", "time_spent_seconds", "state", "version", "created_at",
             "updated_at"],
            (
                (next_annotation + i, project_id, next_trace + 2 * i, user.pk, '{"0": 1, "1": -1}',
                 1, "", "Hint: recheck the second partial sum.", 1, next_trace + 2 * i + 1, "",
                 "incorrect", "[]", 0, "accepted", 1, now, now)
                for i in range(n)
            ),
        )  # fmt: skip
        next_prompt += prompts
        next_trace += 2 * n
        next_annotation += n
    with connection.cursor() as cur:
        for model in (Project, Prompt, Trace, Annotation):
            table = model._meta.db_table
            cur.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
            )
        cur.execute("ANALYZE")


def copy_baseline(project_id: int) -> tuple[float, int]:
    """Raw COPY of the same text columns the preference rows carry."""
    from django.db import connection

    sql = (
        "COPY (SELECT p.text, b.raw_response, t.raw_response "
        "FROM annotations_annotation a JOIN traces_trace t ON t.id = a.trace_id "
        "JOIN traces_trace b ON b.id = a.branch_id JOIN prompts_prompt p ON p.id = t.prompt_id "
        f"WHERE a.project_id = {int(project_id)} AND a.state = 'accepted' ORDER BY a.id) TO STDOUT"
    )
    size = 0
    t0 = time.perf_counter()
    with connection.cursor() as cur, cur.cursor.copy(sql) as cp:
        for block in cp:
            size += len(block)
    return time.perf_counter() - t0, size


def child(project_id: int) -> None:
    """One export in a fresh process: seconds, rows and peak RSS."""
    setup_django()
    import tempfile

    from django.conf import settings

    from reflectlab.exports import services
    from reflectlab.projects.models import Project

    settings.REFLECTLAB_EXPORTS_DIR = tempfile.mkdtemp(prefix="bench-export-")
    project = Project.objects.get(pk=project_id)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    export = services.export_create(
        project=project, user=None, kind="preference", format="jsonl", enqueue=False
    )
    t0 = time.perf_counter()
    services.export_execute(export_id=export.pk)
    seconds = time.perf_counter() - t0
    export.refresh_from_db()
    assert export.state == "succeeded", export.error
    print(
        json.dumps(
            {
                "rows": export.rows_written,
                "seconds": seconds,
                "bytes": export.size_bytes,
                "rss_before_mb": rss_before / 1024,
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            }
        )
    )
    import shutil

    shutil.rmtree(settings.REFLECTLAB_EXPORTS_DIR, ignore_errors=True)


def run_child(project_id: int) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", str(project_id)],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "LOG_LEVEL": "WARNING"},
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure(args, t0: float) -> None:
    setup_django()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    insert([(1, args.small), (2, args.rows)])
    print(
        f"setup: {args.small:,} + {args.rows:,} annotated pairs in {time.perf_counter() - t0:.1f}s"
    )

    copy_s, copy_bytes = min(copy_baseline(2) for _ in range(2))
    small = run_child(1)
    large = run_child(2)
    rate = large["rows"] / large["seconds"]
    copy_rate = args.rows / copy_s
    print(f"COPY (SELECT prompt, chosen, rejected) TO STDOUT: {copy_rate:,.0f} rows/s "
          f"({copy_bytes / copy_s / 1e6:.0f} MB/s, {copy_s:.2f}s)")  # fmt: skip
    print(f"export preference → JSONL:                   {rate:,.0f} rows/s "
          f"({large['bytes'] / large['seconds'] / 1e6:.0f} MB/s, {large['seconds']:.2f}s, "
          f"{large['rows']:,} rows)")  # fmt: skip
    ratio = rate / copy_rate
    print(f"ratio export / COPY: {ratio:.2f}  (target ≥ 0.5) {'OK' if ratio >= 0.5 else 'MISS'}")
    growth = large["peak_rss_mb"] - small["peak_rss_mb"]
    print(f"peak RSS: {small['peak_rss_mb']:.0f} MB at {small['rows']:,} rows, "
          f"{large['peak_rss_mb']:.0f} MB at {large['rows']:,} rows: +{growth:.0f} MB "
          f"(target ≤ +50 MB) {'OK' if growth <= 50 else 'MISS'}")  # fmt: skip
    print(f"total {time.perf_counter() - t0:.0f}s")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--small", type=int, default=10_000)
    ap.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child)
        return 0

    t0 = time.perf_counter()
    create_database()
    try:
        measure(args, t0)
    finally:
        from django.conf import settings

        if settings.configured:
            from django.db import connections

            connections.close_all()
        import psycopg

        with psycopg.connect(db_url("postgres"), autocommit=True) as conn:
            if not os.environ.get("BENCH_KEEP_DB"):
                conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
