"""Claim benchmark (DESIGN §11): 32 concurrent annotators on a 10,000-item queue.

Each claimer is a separate *process* with its own PostgreSQL connection, as 32
annotators would hit several web workers (threads in one process would mostly
measure the GIL). Each presses "next" (``queue_next``, the timed call), then
"submit" (``claim_complete``), then pauses for a random think time, in a loop
until the queue is drained or the phase's time cap. Every phase runs on a fresh
10,000-item queue:

- paced: think time uniform in [0, 2 x --think-ms] (default mean 100 ms), i.e.
  32 annotators each claiming up to ~10 traces a second — hundreds of times
  faster than people work, so claims constantly collide on the head of the
  queue. The DESIGN target applies here;
- saturated: no think time at all (closed loop): the throughput ceiling. Its
  latency is queueing for the CPU (Little's law: 32 claimers / throughput), not
  lock waits, on a 2-core machine shared with PostgreSQL;
- paced-orm: the paced phase on the portable ORM claim path (what SQLite runs,
  and what PostgreSQL ran before the single-statement claim), as the baseline
  measured in the same run. Same work per claim; only the claim path differs.

Prints claims/s, p50/p95/p99 claim latency, and — counted from the database at
the end — over-assignment (traces held by more than ``overlap`` annotators) and
duplicates (a (trace, user) pair claimed twice); both must be 0. It also checks
that the database holds exactly the claims the claimers were handed.

    BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/reflectlab_bench \
        python bench/bench_claims.py [--items 10000] [--claimers 32] [--overlap 1]

It runs in a throwaway database ``reflectlab_bench_claims`` on BENCH_DATABASE_URL's
server, created and migrated at the start and dropped at the end (set
``BENCH_KEEP_DB=1`` to keep it). Target (paced phase): p99 <= 50 ms; zero over-assignment.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/reflectlab_bench"
TARGET_P99_MS = 50.0


DB_NAME = "reflectlab_bench_claims"


def _admin(url: str) -> str:
    return urlparse(url)._replace(path="/postgres").geturl()


def create_database(url: str) -> str:
    """A fresh database named DB_NAME on ``url``'s server; returns its URL."""
    import psycopg

    with psycopg.connect(_admin(url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DB_NAME}"')
    return urlparse(url)._replace(path=f"/{DB_NAME}").geturl()


def drop_database(url: str) -> None:
    import psycopg
    from django.db import connections

    connections.close_all()
    if os.environ.get("BENCH_KEEP_DB"):
        return
    with psycopg.connect(_admin(url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')


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
    from reflectlab.review.queue import queue_sync
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


def claimer(project_id, user_id, *, think_ms, cap, path, barrier, results) -> None:
    """One annotator, in its own process (forked: Django is already set up)."""
    from django.contrib.auth import get_user_model
    from django.db import connections

    from reflectlab.projects.models import Project
    from reflectlab.review import claims, claims_pg

    claims_pg.SINGLE_STATEMENT = path == "statement"
    latencies, handed, timed, error = [], [], 0, None
    rng = random.Random(user_id)
    try:
        project = Project.objects.get(pk=project_id)
        user = get_user_model().objects.get(pk=user_id)
        # Warm up (connection, code paths) untimed; this claim counts in the
        # database check, not in the figures.
        warm = claims.queue_next(project=project, user=user, rng=lambda: 1.0)
        if warm is not None:
            handed.append((warm.trace_id, user_id))
            claims.claim_complete(trace=warm.trace, user=user)
        barrier.wait()
        deadline = time.perf_counter() + cap
        while time.perf_counter() < deadline:
            t0 = time.perf_counter()
            claim = claims.queue_next(project=project, user=user, rng=lambda: 1.0)
            latencies.append(time.perf_counter() - t0)
            if claim is None:
                break
            timed += 1
            handed.append((claim.trace_id, user_id))
            claims.claim_complete(trace=claim.trace, user=user)
            if think_ms:
                time.sleep(rng.uniform(0, 2 * think_ms) / 1000)
    except BaseException as exc:
        error = repr(exc)
        barrier.abort()
    finally:
        connections.close_all()
    results.put((latencies, handed, timed, error))


def run(project, users, *, duration_cap: float, think_ms: float, path: str):
    """Fork one process per claimer; return (latencies, handed pairs, timed claims, wall)."""
    import multiprocessing

    from django.db import connections

    ctx = multiprocessing.get_context("fork")
    connections.close_all()  # never share a connection with the children
    barrier = ctx.Barrier(len(users) + 1)
    results = ctx.Queue()
    procs = [
        ctx.Process(
            target=claimer,
            args=(project.pk, user.pk),
            kwargs={
                "think_ms": think_ms,
                "cap": duration_cap,
                "path": path,
                "barrier": barrier,
                "results": results,
            },
        )
        for user in users
    ]
    for proc in procs:
        proc.start()
    barrier.wait(timeout=120)
    t0 = time.perf_counter()
    latencies, handed, timed, errors = [], [], 0, []
    for _ in procs:
        lat, pairs, n, error = results.get(timeout=duration_cap + 120)
        latencies.extend(lat)
        handed.extend(pairs)
        timed += n
        if error:
            errors.append(error)
    wall = time.perf_counter() - t0
    for proc in procs:
        proc.join()
    if errors:
        raise RuntimeError(errors[0])
    return latencies, handed, timed, wall


def check(project, handed: list[tuple[int, int]]) -> dict[str, int]:
    """Count, from the database, what the claimers did to the queue."""
    from reflectlab.review.models import Claim

    rows = list(
        Claim.objects.filter(project=project, kind="annotate").values_list(
            "trace_id", "user_id", "state"
        )
    )
    holding = Counter(trace for trace, _, state in rows if state in Claim.HOLDING)
    pairs = Counter((trace, user) for trace, user, _ in rows)
    return {
        "over": sum(1 for n in holding.values() if n > project.overlap),
        "dupes": sum(1 for n in pairs.values() if n > 1),
        "in_db": len(rows),
        # every claim handed out is in the database, and nothing else is
        "mismatch": len(set(pairs) ^ set(handed)) + abs(len(rows) - len(handed)),
    }


def phase(name: str, args) -> tuple[bool, float]:
    """Run one phase on a fresh queue; return (no over-assignment or duplicates, p99 ms)."""
    from django.contrib.auth import get_user_model

    kind, _, path = name.partition("-")
    path = path or "statement"
    think_ms = args.think_ms if kind == "paced" else 0
    t0 = time.perf_counter()
    project, users = build_queue(args.items, args.claimers, args.overlap)
    print(
        f"[{name}] queue: {args.items} traces, overlap {args.overlap}, {args.claimers} claimer "
        f"processes, {path} claim path, think time mean {think_ms:.0f} ms "
        f"(built in {time.perf_counter() - t0:.1f}s)"
    )
    try:
        latencies, handed, timed, wall = run(
            project, users, duration_cap=args.max_seconds, think_ms=think_ms, path=path
        )
        found = check(project, handed)
    finally:
        get_user_model().objects.filter(pk__in=[u.pk for u in users]).delete()
        project.delete()
    ms = sorted(x * 1000 for x in latencies)
    q = statistics.quantiles(ms, n=100, method="inclusive")
    p50, p95, p99 = q[49], q[94], q[98]
    print(f"[{name}] claims:           {timed} in {wall:.1f}s = {timed / wall:.0f} claims/s")
    print(
        f"[{name}] claim latency ms: p50 {p50:.1f}  p95 {p95:.1f}  p99 {p99:.1f}  max {ms[-1]:.1f}"
    )
    print(f"[{name}] over-assignment:  {found['over']}  (traces held by more than {args.overlap})")
    print(f"[{name}] duplicates:       {found['dupes']}  (a (trace, user) pair claimed twice)")
    print(
        f"[{name}] in the database:  {found['in_db']} claims, {found['mismatch']} differing "
        f"from those handed out ({len(handed) - timed} of them untimed warm-ups)"
    )
    print(f"[{name}] p99 / 50 ms target: {p99 / TARGET_P99_MS:.2f}")
    if len(handed) < args.items * args.overlap:
        print(f"[{name}] note: stopped after {args.max_seconds:.0f}s, before the queue was drained")
    return found["over"] == found["dupes"] == found["mismatch"] == 0, p99


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--claimers", type=int, default=32)
    parser.add_argument("--overlap", type=int, default=1)
    parser.add_argument("--think-ms", type=float, default=100)
    parser.add_argument("--max-seconds", type=float, default=25, help="cap per phase")
    parser.add_argument(
        "--phases",
        default="paced,saturated,paced-orm",
        help="paced or saturated, with -orm for the portable claim path",
    )
    args = parser.parse_args()

    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    if not url.startswith("postgres"):
        print("bench_claims needs PostgreSQL (BENCH_DATABASE_URL).")
        return 2
    url = create_database(url)
    ok, p99s = True, {}
    try:
        setup_django(url)
        for name in args.phases.split(","):
            passed, p99s[name] = phase(name, args)
            ok &= passed
    finally:
        drop_database(url)
    if "paced" in p99s and "paced-orm" in p99s:
        print(
            f"[paced] p99 single statement / ORM path, same run: "
            f"{p99s['paced'] / p99s['paced-orm']:.2f}"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
