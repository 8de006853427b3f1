"""Server time to render the workspace for a 250 KB, 600-step trace (DESIGN §11).

Run: ``.venv/bin/python bench/bench_trace_page.py``. Like the other benches it
uses PostgreSQL: a throwaway database ``reflectlab_bench_trace_page`` next to
``BENCH_DATABASE_URL`` (default: the local server), dropped afterwards. Prints p50/p95 of ~30 renders through the Django test client and the ratio to
the floor: the same text rendered as one escaped ``<pre>``. Target p50 <= 100 ms.
"""

from __future__ import annotations

import os
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
STEPS = 600
TARGET_BYTES = 250_000


def synthetic_trace() -> str:
    """600 steps, ~250 KB: execution runs, reflections, transitions, boxed answers, math."""
    filler = (
        "We have \\(x^2 + 3x - 4 = 0\\), so the roots satisfy x = 1 or x = -4; "
        "the sum of the costs is $12 and 3 \u00d7 4 = 12, which we carry to the next line. "
    )
    per_step = TARGET_BYTES // STEPS - 2
    parts = []
    for i in range(STEPS):
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
    text = synthetic_trace()
    trace = TraceFactory(project=project, raw_response=text)
    client.force_login(user)
    url = reverse("traces:detail", args=[trace.pk])
    floor_template = engines["django"].from_string("<pre>{{ text }}</pre>")

    def page() -> int:
        response = client.get(url)
        assert response.status_code == 200, response.status_code
        return len(response.content)

    def floor() -> int:
        return len(floor_template.render({"text": trace.raw_response}))

    size = page()  # warm caches and templates
    floor()
    page_times, floor_times = [], []
    for _ in range(RUNS):
        t = time.perf_counter()
        page()
        page_times.append(time.perf_counter() - t)
        t = time.perf_counter()
        floor()
        floor_times.append(time.perf_counter() - t)
    p50, p95 = statistics.median(page_times), percentile(page_times, 0.95)
    f50 = statistics.median(floor_times)
    db = connection.vendor
    print(
        f"trace page ({db}): {len(text) / 1000:.0f} KB, {trace.n_steps} steps, "
        f"{trace.n_reflection_steps} reflections, page {size / 1000:.0f} KB, {RUNS} renders"
    )
    print(f"  workspace render  p50 {p50 * 1000:7.1f} ms   p95 {p95 * 1000:7.1f} ms")
    print(f"  escaped <pre>     p50 {f50 * 1000:7.1f} ms   (the floor)")
    print(
        f"  ratio p50 / floor {p50 / f50:7.1f} x   target p50 <= 100 ms: "
        f"{'OK' if p50 <= 0.1 else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
