"""Analysis throughput on the real traces, side by side with a bare ``re.split``.

    python bench/bench_analysis.py [--repeat 5]

Prints MB/s of response text for: the baseline ``re.split(r"\\n\\s*\\n", text)``,
``analyze`` without a reference, ``analyze`` + ``to_dict``, and ``analyze`` with
reference grading (cold caches on the first pass, then warm). DESIGN §11 asks
for ≥ 20 MB/s and ≥ 0.25x the baseline. Exits 0; prints a skip message when the
shared data is absent. Needs no Django.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import os
import re
import sys
import time
import types
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def import_analysis() -> types.ModuleType:
    """The pure analysis package (importing it loads no Django)."""
    sys.path.insert(0, str(ROOT))
    return importlib.import_module("reflectlab.analysis")


def shared_data_dir() -> Path:
    return Path(os.environ.get("REFLECTLAB_SHARED_DATA", ROOT.parent / "shared" / "data"))


def load_records() -> list[dict]:
    records = []
    for path in sorted((shared_data_dir() / "traces").glob("*.jsonl")):
        with path.open(encoding="utf-8") as f:
            records.extend(json.loads(line) for line in f if line.strip())
    return records


def best_seconds(fn: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    if importlib.util.find_spec("math_verify") is None:
        print("note: math-verify is not installed; grading will report None")
    records = load_records()
    if not records:
        print(f"SKIP: no traces under {shared_data_dir() / 'traces'} (set REFLECTLAB_SHARED_DATA)")
        return 0
    analysis = import_analysis()
    from reflectlab.analysis import grade

    texts = [r["response"] for r in records]
    refs = [r.get("reference_answer") for r in records]
    megabytes = sum(len(t.encode()) for t in texts) / 1e6
    split = re.compile(r"\n\s*\n").split

    def baseline() -> None:
        for t in texts:
            split(t)

    def plain() -> None:
        for t in texts:
            analysis.analyze(t)

    def with_dict() -> None:
        for t in texts:
            analysis.to_dict(analysis.analyze(t))

    def graded() -> None:
        for t, ref in zip(texts, refs, strict=True):
            analysis.analyze(t, reference=ref)

    plain()  # warm the lexicon's compiled regexes
    rows = [("re.split baseline", best_seconds(baseline, args.repeat))]
    rows.append(("analyze, no grading", best_seconds(plain, args.repeat)))
    rows.append(("analyze + to_dict", best_seconds(with_dict, args.repeat)))
    grade.verifier.pool().clear_caches()  # math-verify runs in child processes
    grade._verify.cache_clear()
    rows.append(("analyze + grading (cold)", best_seconds(graded, 1)))
    rows.append(("analyze + grading (warm)", best_seconds(graded, args.repeat)))

    print(f"{len(texts)} traces, {megabytes:.2f} MB, best of {args.repeat}")
    base = rows[0][1]
    for name, seconds in rows:
        print(f"{name:28s} {megabytes / seconds:8.1f} MB/s   {base / seconds:6.3f}x baseline")
    print(f"math-verify comparisons by outcome: {grade.grading_stats()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
