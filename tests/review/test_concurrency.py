"""Many annotators pressing "next" at once, on whichever database DATABASE_URL selects.

Each thread has its own database connection (Django opens one per thread);
``transactional_db`` commits for real, so the threads see each other's work.
"""

from __future__ import annotations

import threading
from collections import Counter, defaultdict

import pytest
from django.db import connection, connections

from reflectlab.review import claims
from reflectlab.review.models import Claim
from tests.factories import MembershipFactory, ProjectFactory, TraceFactory, UserFactory

THREADS = 32


def run_claimers(project, users, rounds: int, *, skip_every: int = 0):
    """Each round, all threads wait at a barrier and then claim at the same instant."""
    barrier = threading.Barrier(len(users))
    log: list[tuple[int, int, str]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def work(index, user):
        try:
            for round_no in range(rounds):
                barrier.wait(timeout=60)
                claim = claims.queue_next(project=project, user=user, rng=lambda: 1.0)
                if claim is None:
                    continue
                skip = skip_every and (index + round_no) % skip_every == 0
                with lock:
                    log.append((claim.trace_id, user.pk, "skip" if skip else "done"))
                if skip:
                    claims.claim_release(claim=claim, by=user)
                else:
                    claims.claim_complete(trace=claim.trace, user=user)
        except BaseException as exc:  # surfaced in the main thread
            errors.append(exc)
            barrier.abort()
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(i, u)) for i, u in enumerate(users)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors[0]
    return log


@pytest.mark.slow
@pytest.mark.parametrize("overlap", [1, 3])
def test_concurrent_claims_never_over_assign_nor_duplicate(transactional_db, overlap):
    project = ProjectFactory(overlap=overlap, queue_policy={"gold_rate": 0})
    n_traces = 24
    for _ in range(n_traces):
        TraceFactory(project=project)
    users = []
    for _ in range(THREADS):
        user = UserFactory()
        MembershipFactory(project=project, user=user)
        users.append(user)
    rounds = n_traces * overlap // THREADS + 4
    log = run_claimers(project, users, rounds, skip_every=5)

    handed = Counter((trace, user) for trace, user, _ in log)
    assert max(handed.values()) == 1, "someone got the same trace twice"
    done = defaultdict(set)
    for trace, user, outcome in log:
        if outcome == "done":
            done[trace].add(user)
    assert max(len(users_) for users_ in done.values()) <= overlap
    # every slot of every trace was filled: skipped traces went to others
    assert sum(len(u) for u in done.values()) == n_traces * overlap
    holding = Counter(
        Claim.objects.filter(project=project, state__in=Claim.HOLDING).values_list(
            "trace_id", flat=True
        )
    )
    assert max(holding.values()) == overlap
    assert Claim.objects.filter(project=project, state="active").count() == 0


@pytest.mark.slow
def test_one_item_queue_with_simultaneous_presses_gives_it_to_exactly_overlap_users(
    transactional_db,
):
    for overlap in (1, 3):
        project = ProjectFactory(overlap=overlap, queue_policy={"gold_rate": 0})
        (trace,) = [TraceFactory(project=project)]
        users = [UserFactory() for _ in range(THREADS)]
        for user in users:
            MembershipFactory(project=project, user=user)
        log = run_claimers(project, users, rounds=1)
        assert sorted(t for t, _, _ in log) == [trace.pk] * overlap, connection.vendor
