"""Reflection behaviour per shared trace file (the figures of DESIGN §10).

    python bench/reflection_stats.py [--lexicon overrides.json]

Per file: share of traces with at least one reflection step, mean reflection
steps per trace, mean share of the thinking's characters in reflection steps,
confirmatory vs corrective shares, F→T and T→F counts, final accuracy.
``--lexicon`` applies lexicon overrides as a project would (``Project.lexicon``),
e.g. an older lexicon's lists, to compare two lexicons on the same traces.
Needs no Django; prints a skip message when the data is absent.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_analysis import import_analysis, load_records


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lexicon", type=Path, help="JSON lexicon overrides")
    args = parser.parse_args()
    records = load_records()
    if not records:
        print("SKIP: no shared traces (set REFLECTLAB_SHARED_DATA)")
        return 0
    analysis = import_analysis()
    lexicon = (
        analysis.Lexicon.from_dict(json.loads(args.lexicon.read_text()))
        if args.lexicon
        else analysis.Lexicon.default()
    )
    print(f"lexicon {lexicon.version}")
    by_file: dict[str, list[dict]] = {}
    for record in records:
        by_file.setdefault(record["id"].rsplit("-", 1)[0], []).append(record)
    header = f"{'file':30s} {'n':>4s} {'refl>=1':>8s} {'refl/tr':>8s} {'chars':>6s} {'conf':>6s} {'corr':>6s} {'F→T':>5s} {'T→F':>5s} {'acc':>6s}"
    print(header)
    for name, rows in by_file.items():
        results = [
            analysis.analyze(r["response"], reference=r["reference_answer"], lexicon=lexicon)
            for r in rows
        ]
        n = len(results)
        with_reflection = sum(a.metrics.reflection_steps > 0 for a in results) / n
        mean_steps = sum(a.metrics.reflection_steps for a in results) / n
        chars = sum(a.metrics.reflection_share for a in results) / n
        labels = [r for a in results for r in a.reflections]
        conf = sum(r.kind == "confirmatory" for r in labels)
        corr = sum(r.kind == "corrective" for r in labels)
        judged = max(conf + corr, 1)
        f_t = sum(r.transition == "F→T" for r in labels)
        t_f = sum(r.transition == "T→F" for r in labels)
        accuracy = sum(bool(a.final_correct) for a in results) / n
        print(
            f"{name:30s} {n:4d} {with_reflection:8.1%} {mean_steps:8.1f} {chars:6.1%} "
            f"{conf / judged:6.1%} {corr / judged:6.1%} {f_t:5d} {t_f:5d} {accuracy:6.1%}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
