"""Claim benchmark (DESIGN §11): 32 concurrent annotators on a 10,000-item queue.

Each claimer is a thread with its own PostgreSQL connection, pressing "next",
then "submit" (``claim_complete``), then pausing for a random think time, until
the queue is drained. Two phases, each on a fresh 10,000-item queue:

- paced: think time uniform in [0, 2 x --think-ms] (default mean 100 ms), i.e.
  32 annotators each claiming ~10 traces a second — hundreds of times faster
  than people work, so claims constantly collide on the head of the queue;
- saturated: no think time at all (closed loop): the throughput ceiling. Its
  latency is queueing for the CPU (Little's law: 32 claimers / throughput), not
  lock waits, on a 2-core machine shared with PostgreSQL.

Prints claims/s, p50/p95/p99 claim latency, and counts over-assignment (traces
held by more than ``overlap`` annotators) and duplicates (a user handed the
same trace twice) — both must be 0.

    BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/reflectlab_bench \
        python bench/bench_claims.py [--items 10000] [--claimers 32] [--overlap 1]

The database is created if missing and migrated; the benchmark's project is
deleted afterwards. Target (paced phase): p99 <= 50 ms; zero over-assignment.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/reflectlab_bench"
TARGET_P99_MS = 50.0


def ensure_database(url: str) -> None:
    import psycopg

    parts = urlparse(url)
    name = parts.path.lstrip("/")
    admin = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


def setup_django(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("SECRET_KEY", "bench-only")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "reflectlab.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def build_queue(n_items: int, n_claimers: int, overlap: int):
    from django.contrib.auth import get_user_model

    from reflectlab.projects.models import Membership, Project
    from reflectlab.prompts.models import Prompt
    from reflectlab.review.services import queue_sync
    from reflectlab.traces.models import Trace

    project = Project.objects.create(
        name=f"bench-claims-{time.time_ns()}", overlap=overlap, queue_policy={"gold_rate": 0}
    )
    prompt = Prompt.objects.create(project=project, text="bench", reference_answer="1")
    Trace.objects.bulk_create(
        [
            Trace(
                project=project,
                prompt=prompt,
                raw_response="x",
                final_correct=(i % 3 != 0),
                has_corrective=(i % 7 == 0),
                n_reflection_steps=i % 13,
            )
            for i in range(n_items)
        ],
        batch_size=2000,
    )
    User = get_user_model()
    users = User.objects.bulk_create(
        [User(username=f"{project.name}-u{i}") for i in range(n_claimers)]
    )
    Membership.objects.bulk_create([Membership(project=project, user=u) for u in users])
    queue_sync(project=project, full=True)
    return project, users


def run(project, users, *, duration_cap: float, think_ms: float):
    from django.db import connections

    from reflectlab.review.services import claim_complete, queue_next

    latencies: list[float] = []
    handed: list[tuple[int, int]] = []
    lock = threading.Lock()
    start = threading.Barrier(len(users) + 1)
    errors: list[BaseException] = []
    deadline = [0.0]

    def claimer(user):
        mine_lat, mine_handed = [], []
        rng = random.Random(user.pk)
        try:
            queue_next(project=project, user=user, rng=lambda: 1.0)  # warm connection
            start.wait()
            # The warm-up claim is kept; finish it so it is counted too.
            while time.perf_counter() < deadline[0]:
                t0 = time.perf_counter()
                claim = queue_next(project=project, user=user, rng=lambda: 1.0)
                mine_lat.append(time.perf_counter() - t0)
                if claim is None:
                    break
                mine_handed.append((claim.trace_id, user.pk))
                claim_complete(trace=claim.trace, user=user)
                if think_ms:
                    time.sleep(rng.uniform(0, 2 * think_ms) / 1000)
        except BaseException as exc:
            errors.append(exc)
        finally:
            with lock:
                latencies.extend(mine_lat)
                handed.extend(mine_handed)
            connections.close_all()

    threads = [threading.Thread(target=claimer, args=(u,)) for u in users]
    for thread in threads:
        thread.start()
    deadline[0] = time.perf_counter() + duration_cap + 5
    start.wait()
    t0 = time.perf_counter()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - t0
    if errors:
        raise errors[0]
    return latencies, handed, wall


def check(project) -> tuple[int, int]:
    from reflectlab.review.models import Claim

    holding = Counter(
        Claim.objects.filter(project=project, kind="annotate", state__in=Claim.HOLDING).values_list(
            "trace_id", flat=True
        )
    )
    over = sum(1 for n in holding.values() if n > project.overlap)
    pairs = Counter(
        Claim.objects.filter(project=project, kind="annotate").values_list("trace_id", "user_id")
    )
    dupes = sum(1 for n in pairs.values() if n > 1)
    return over, dupes


def phase(name: str, args, think_ms: float) -> bool:
    from django.contrib.auth import get_user_model

    t0 = time.perf_counter()
    project, users = build_queue(args.items, args.claimers, args.overlap)
    print(
        f"[{name}] queue: {args.items} traces, overlap {args.overlap}, {args.claimers} claimers, "
        f"think time mean {think_ms:.0f} ms (built in {time.perf_counter() - t0:.1f}s)"
    )
    try:
        latencies, handed, wall = run(
            project, users, duration_cap=args.max_seconds, think_ms=think_ms
        )
        over, dupes = check(project)
    finally:
        get_user_model().objects.filter(pk__in=[u.pk for u in users]).delete()
        project.delete()
    claims = len(handed)
    ms = sorted(x * 1000 for x in latencies)
    q = statistics.quantiles(ms, n=100, method="inclusive")
    p50, p95, p99 = q[49], q[94], q[98]
    print(f"[{name}] claims:           {claims} in {wall:.1f}s = {claims / wall:.0f} claims/s")
    print(
        f"[{name}] claim latency ms: p50 {p50:.1f}  p95 {p95:.1f}  p99 {p99:.1f}  max {ms[-1]:.1f}"
    )
    print(f"[{name}] over-assignment:  {over}  (traces held by more than {args.overlap})")
    print(f"[{name}] duplicates:       {dupes}  (a user handed the same trace twice)")
    print(f"[{name}] p99 / 50 ms target: {p99 / TARGET_P99_MS:.2f}")
    if claims + args.claimers < args.items * args.overlap:
        print(f"[{name}] note: stopped after {args.max_seconds:.0f}s, before the queue was drained")
    return over == 0 and dupes == 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--claimers", type=int, default=32)
    parser.add_argument("--overlap", type=int, default=1)
    parser.add_argument("--think-ms", type=float, default=100)
    parser.add_argument("--max-seconds", type=float, default=30, help="cap per phase")
    parser.add_argument("--phases", default="paced,saturated")
    args = parser.parse_args()

    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    if not url.startswith("postgres"):
        print("bench_claims needs PostgreSQL (BENCH_DATABASE_URL).")
        return 2
    ensure_database(url)
    setup_django(url)
    ok = True
    for name in args.phases.split(","):
        ok &= phase(name, args, args.think_ms if name == "paced" else 0)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
