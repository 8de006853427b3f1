"""The two claim paths: the portable ORM one (SQLite) and the single statement
(PostgreSQL, ``review.claims_pg``). Each test runs on whichever database
DATABASE_URL selects; the PostgreSQL-only ones say so."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.conf import settings as django_settings
from django.db import connection

from reflectlab.review import claims, claims_pg, queue
from reflectlab.review.models import Claim, QueueItem
from reflectlab.traces.models import Trace
from tests.factories import MembershipFactory, ProjectFactory, TraceFactory, UserFactory
from tests.review.test_concurrency import THREADS, run_claimers

postgres_only = pytest.mark.skipif(
    "postgresql" not in django_settings.DATABASES["default"]["ENGINE"], reason="PostgreSQL only"
)


def next_for(project, user):
    return claims.queue_next(project=project, user=user, rng=lambda: 1.0)


@pytest.mark.django_db
def test_an_item_open_by_its_counters_but_full_is_skipped_and_closed(project, member, traces):
    project.queue_policy = {"gold_rate": 0}
    project.save()
    first, second = traces(2)
    alice, bob = member(), member()
    assert next_for(project, alice).trace_id == first.pk
    # The hint drifts: the item looks free although alice holds its only slot.
    QueueItem.objects.filter(trace=first).update(n_taken=0, is_open=True)
    assert next_for(project, bob).trace_id == second.pk
    item = QueueItem.objects.get(trace=first)
    assert (item.n_taken, item.is_open) == (1, False)


@pytest.mark.django_db
def test_a_new_trace_joins_the_queue_within_the_sync_interval(project, member, traces, monkeypatch):
    project.queue_policy = {"gold_rate": 0}
    project.save()
    traces(2)
    Trace.objects.filter(project=project).update(final_correct=True)
    assert next_for(project, member()) is not None
    (late,) = traces(1)
    Trace.objects.filter(pk=late.pk).update(final_correct=False)  # wrong first: it leads
    monkeypatch.setattr(claims, "QUEUE_SYNC_SECONDS", 0.0)  # the interval has passed
    assert next_for(project, member()).trace_id == late.pk


@pytest.mark.django_db
def test_a_lapsed_lease_is_expired_by_the_next_claim_even_if_the_queue_is_not_empty(
    project, member, traces, settings
):
    settings.REFLECTLAB_CLAIM_TTL_SECONDS = 600
    project.queue_policy = {"gold_rate": 0}
    project.save()
    first, _, _ = traces(3)
    alice, bob, carol = member(), member(), member()
    start = datetime(2026, 1, 1, 12, tzinfo=UTC)
    with time_machine.travel(start, tick=False):
        lapsed = next_for(project, alice)
    assert lapsed.trace_id == first.pk
    with time_machine.travel(start + timedelta(minutes=11), tick=False):
        taken = {next_for(project, bob).trace_id, next_for(project, carol).trace_id}
    lapsed.refresh_from_db()
    assert lapsed.state == "expired"
    # PostgreSQL hands it out from the claim after the one that found it lapsed.
    assert first.pk in taken


@postgres_only
@pytest.mark.slow
@pytest.mark.parametrize("overlap", [1, 3])
def test_the_portable_path_on_postgresql_never_over_assigns_either(
    transactional_db, overlap, monkeypatch
):
    monkeypatch.setattr(claims_pg, "SINGLE_STATEMENT", False)
    project = ProjectFactory(overlap=overlap, queue_policy={"gold_rate": 0})
    for _ in range(12):
        TraceFactory(project=project)
    users = [UserFactory() for _ in range(THREADS)]
    for user in users:
        MembershipFactory(project=project, user=user)
    log = run_claimers(project, users, rounds=12 * overlap // THREADS + 3, skip_every=5)
    assert max(Counter((trace, user) for trace, user, _ in log).values()) == 1
    holding = Counter(
        Claim.objects.filter(project=project, state__in=Claim.HOLDING).values_list(
            "trace_id", flat=True
        )
    )
    assert max(holding.values()) == overlap
    assert sum(holding.values()) == 12 * overlap


@postgres_only
def test_the_claim_statement_relaxes_durability_for_its_own_commit_only(transactional_db):
    project = ProjectFactory(queue_policy={"gold_rate": 0})
    TraceFactory(project=project)
    user = UserFactory()
    MembershipFactory(project=project, user=user)

    def setting():
        with connection.cursor() as cursor:
            cursor.execute("SHOW synchronous_commit")
            return cursor.fetchone()[0]

    before = setting()
    assert next_for(project, user) is not None
    assert setting() == before


@pytest.mark.django_db
def test_a_bulk_sync_refreshes_planner_statistics_and_the_queue_still_works(
    project, member, traces, monkeypatch
):
    monkeypatch.setattr(queue, "ANALYZE_AFTER_ITEMS", 2)
    first, _ = traces(2)
    assert queue.queue_sync(project=project) == 2
    assert next_for(project, member()).trace_id == first.pk


@pytest.mark.django_db
def test_completing_returns_the_claim_done_in_its_slot(project, member, traces):
    project.queue_policy = {"gold_rate": 0}
    project.save()
    (trace,) = traces(1)
    alice = member()
    claim = next_for(project, alice)
    done = claims.claim_complete(trace=trace, user=alice)
    assert (done.pk, done.state, done.slot) == (claim.pk, "done", 0)
    stored = Claim.objects.get(pk=claim.pk)
    assert (stored.state, stored.ended_at) == ("done", done.ended_at)
    # completing again is a no-op that returns the same claim
    assert claims.claim_complete(trace=trace, user=alice).pk == claim.pk
