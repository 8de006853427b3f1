"""Import benchmark (DESIGN §11): 20,000 real traces into PostgreSQL, analysis included,
against a raw ``COPY`` of the same rows. Target: ratio >= 0.5.

Both sides read the same JSONL file and decode every line; the baseline then
COPYs the five text columns into a bare table, while reflectlab validates,
creates the prompts, analyses and grades every trace and stores it.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _django import drop_database, fresh_database, setup_django, shared_data_dir

N = int(os.environ.get("BENCH_IMPORT_ROWS", "20000"))
DB = "reflectlab_bench_import"


def replicated_file(path: Path) -> int:
    records = []
    for source in sorted((shared_data_dir() / "traces").glob("*.jsonl")):
        records += [orjson.loads(line) for line in source.read_bytes().splitlines() if line.strip()]
    size = 0
    with path.open("wb") as out:
        for i in range(N):
            record = dict(records[i % len(records)])
            record["id"] = f"{record['id']}-r{i // len(records)}"
            line = orjson.dumps(record) + b"\n"
            size += len(line)
            out.write(line)
    return size


def copy_baseline(path: Path) -> float:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE raw_import (id text, model text, question text, reference text, response text)"
        )
        started = time.perf_counter()
        with path.open("rb") as stream, cursor.copy("COPY raw_import FROM STDIN") as copy:
            for line in stream:
                r = orjson.loads(line)
                copy.write_row(
                    (r["id"], r["model"], r["question"], r["reference_answer"], r["response"])
                )
        elapsed = time.perf_counter() - started
        cursor.execute("DROP TABLE raw_import")
    return elapsed


def reflectlab_import(path: Path) -> tuple[float, dict]:
    from reflectlab.projects.models import Project
    from reflectlab.prompts.services import import_stream

    project = Project.objects.create(name="bench")
    started = time.perf_counter()
    with path.open("rb") as stream:
        report = import_stream(project=project, stream=stream, kind="traces", file_format="jsonl")
    return time.perf_counter() - started, report


def main() -> int:
    if not (shared_data_dir() / "traces").is_dir():
        print(f"skipped: no shared traces at {shared_data_dir()}")
        return 0
    try:
        setup_django(fresh_database(DB))
    except Exception as exc:
        print(f"skipped: PostgreSQL unavailable ({exc})")
        return 0
    try:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "traces.jsonl"
            size = replicated_file(path)
            copy_s = copy_baseline(path)
            ours_s, report = reflectlab_import(path)
        assert report["rows_written"] == N, report
        mb = size / 1e6
        print(f"{N} traces, {mb:.1f} MB (replicated from the shared files)")
        print(f"raw COPY baseline      {copy_s:6.2f} s  {N / copy_s:8.0f} rows/s")
        print(
            f"reflectlab import      {ours_s:6.2f} s  {N / ours_s:8.0f} rows/s  (validate + analyse + grade + store)"
        )
        print(f"ratio (target >= 0.5)  {copy_s / ours_s:.2f}")
    finally:
        drop_database(DB)
    return 0


if __name__ == "__main__":
    sys.exit(main())
