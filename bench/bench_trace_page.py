"""Server time to render the workspace for one trace (DESIGN §11, issue 16).

Run: ``.venv/bin/python bench/bench_trace_page.py``. Like the other benches it
uses PostgreSQL: a throwaway database ``reflectlab_bench_trace_page`` next to
``BENCH_DATABASE_URL`` (default: the local server), dropped afterwards.

Two traces, the same synthetic mix of execution runs, reflections,
transitions, boxed answers and math: 250 KB with 600 steps (target p50 <=
100 ms) and 4 MB with 9,600 steps (target p50 <= 300 ms). For each it prints
p50/p95 of the page through the Django test client, the initial HTML size and
the floor measured in the same loop: the same text rendered as one escaped
``<pre>``. For the long trace it also times opening every closed fold at once
(one request for all steps, what ``z`` asks for) when the page has lazy folds.
``BENCH_RUNS`` (default 30) and ``BENCH_RUNS_LARGE`` (default 15) set the
number of renders.
"""

from __future__ import annotations

import os
import re
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("DEBUG", "1")

from _django import drop_database, fresh_database, setup_django  # noqa: E402

DB = "reflectlab_bench_trace_page"

RUNS = int(os.environ.get("BENCH_RUNS", "30"))
RUNS_LARGE = int(os.environ.get("BENCH_RUNS_LARGE", "15"))
# (label, steps, bytes, renders, target p50 in seconds)
CASES = [
    ("250 KB", 600, 250_000, RUNS, 0.100),
    ("4 MB", 9_600, 4_000_000, RUNS_LARGE, 0.300),
]
LAZY_FOLD = re.compile(r'<div class="fold-body" hx-get="([^"]+)"')


def synthetic_trace(steps: int, target_bytes: int) -> str:
    """``steps`` steps, ~``target_bytes``: execution runs, reflections, transitions, answers, math."""
    filler = (
        "We have \\(x^2 + 3x - 4 = 0\\), so the roots satisfy x = 1 or x = -4; "
        "the sum of the costs is $12 and 3 \u00d7 4 = 12, which we carry to the next line. "
    )
    per_step = target_bytes // steps - 2
    parts = []
    for i in range(steps):
        if i % 10 == 3:
            head = "Wait, let me double-check that. "
        elif i % 10 == 6:
            head = "Alternatively, another approach is to factor. "
        elif i % 10 == 8:
            head = "But maybe the sign is off. "
        else:
            head = f"Step {i}: "
        tail = f" So the answer is \\boxed{{{i % 7}}}." if i % 25 == 24 else ""
        body = (filler * 4)[: per_step - len(head) - len(tail)].rstrip()
        parts.append(head + body + tail)
    return "\n\n".join(parts) + "\n</think>\n\nThe answer is \\(\\boxed{3}\\)."


def percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]


def main() -> None:
    setup_django(fresh_database(DB))
    from django.test import Client
    from django.test.utils import setup_test_environment

    setup_test_environment()
    try:
        run(Client())
    finally:
        drop_database(DB)


def timed(fn, runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def run(client) -> None:
    from django.conf import settings
    from django.db import connection
    from django.template import engines
    from django.urls import reverse

    from tests.factories import MembershipFactory, ProjectFactory, TraceFactory, UserFactory

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    user = UserFactory()
    project = ProjectFactory()
    MembershipFactory(project=project, user=user, role="annotator")
    client.force_login(user)
    floor_template = engines["django"].from_string("<pre>{{ text }}</pre>")
    missed = []
    for label, steps, size, runs, target in CASES:
        text = synthetic_trace(steps, size)
        trace = TraceFactory(project=project, raw_response=text)
        url = reverse("traces:detail", args=[trace.pk])

        def page(url=url) -> bytes:
            response = client.get(url)
            assert response.status_code == 200, response.status_code
            return response.content

        def floor(trace=trace) -> int:
            return len(floor_template.render({"text": trace.raw_response}))

        html = page()  # warm caches and templates
        floor()
        page_times, floor_times = [], []
        for _ in range(runs):
            page_times += timed(page, 1)
            floor_times += timed(floor, 1)
        p50, p95 = statistics.median(page_times), percentile(page_times, 0.95)
        f50 = statistics.median(floor_times)
        body = html.decode()
        lazy = LAZY_FOLD.findall(body)
        print(
            f"trace page ({connection.vendor}), {label}: {len(text) / 1000:.0f} KB, "
            f"{trace.n_steps} steps, {trace.n_reflection_steps} reflections, "
            f"initial HTML {len(html) / 1000:.0f} KB, {len(lazy)} folds loaded on demand, "
            f"{runs} renders"
        )
        print(f"  workspace render  p50 {p50 * 1000:7.1f} ms   p95 {p95 * 1000:7.1f} ms")
        print(f"  escaped <pre>     p50 {f50 * 1000:7.1f} ms   (the floor)")
        ok = p50 <= target
        print(
            f"  ratio p50 / floor {p50 / f50:7.1f} x   target p50 <= {target * 1000:.0f} ms: "
            f"{'OK' if ok else 'MISSED'}"
        )
        if not ok:
            missed.append(label)
        if lazy:
            # One fold opened, and every step at once (z), through the fold endpoint.
            one_url = lazy[-1].replace("&amp;", "&")
            all_url = re.sub(r"start=\d+&stop=\d+", f"start=0&stop={trace.n_steps}", one_url)

            def fragment(url: str) -> bytes:
                response = client.get(url, headers={"HX-Request": "true"})
                assert response.status_code == 200, response.status_code
                return response.content

            one, every = fragment(one_url), fragment(all_url)
            one_times = timed(lambda u=one_url: fragment(u), runs)
            all_times = timed(lambda u=all_url: fragment(u), 5)
            print(
                f"  one fold opened   p50 {statistics.median(one_times) * 1000:7.1f} ms "
                f"({len(one) / 1000:.1f} KB); all {trace.n_steps} steps at once "
                f"p50 {statistics.median(all_times) * 1000:7.1f} ms ({len(every) / 1000:.0f} KB)"
            )
    if missed:
        print(f"missed: {', '.join(missed)}")


if __name__ == "__main__":
    main()
