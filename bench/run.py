"""Run every benchmark (``make bench``), each in its own process, and print a summary.

Each ``bench/bench_*.py`` prints its own measurements and the ratio to its
baseline, measured side by side in the same run (DESIGN §11). PostgreSQL is
used when ``BENCH_DATABASE_URL`` (default: the local server) answers.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
# The quick ones first; any other bench_*.py runs after these, by name.
FIRST = ["analysis", "import", "trace_page", "claims", "export", "runs", "judge"]


def all_benches() -> list[str]:
    names = sorted(path.stem.removeprefix("bench_") for path in HERE.glob("bench_*.py"))
    return [name for name in FIRST if name in names] + [n for n in names if n not in FIRST]


def main() -> int:
    env = {**os.environ}
    env.setdefault("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/reflectlab_bench")
    env.setdefault("SECRET_KEY", "bench-only")
    env.setdefault("PYTHONPATH", str(HERE.parent))
    selected = sys.argv[1:] or all_benches()
    scripts = [HERE / f"bench_{name}.py" for name in selected]
    failures = []
    for script in scripts:
        if not script.exists():
            print(f"\n### {script.stem}: not present, skipped")
            continue
        print(f"\n### {script.stem}", flush=True)
        started = time.perf_counter()
        result = subprocess.run([sys.executable, str(script)], env=env, check=False)
        print(
            f"### {script.stem}: exit {result.returncode} in {time.perf_counter() - started:.1f}s"
        )
        if result.returncode:
            failures.append(script.stem)
    if failures:
        print(f"\nfailed: {', '.join(failures)}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
