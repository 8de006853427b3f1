"""Annotate claims: claim the next trace, heartbeat, release, complete, expire.

How a claim stays atomic on both backends: every attempt runs in its own
transaction that (1) picks the best open ``QueueItem`` — on PostgreSQL with
``SELECT … FOR UPDATE SKIP LOCKED`` so concurrent claimers take different
items instead of queueing behind one; on SQLite the ``IMMEDIATE`` transaction
mode serialises writers — (2) reads the slots already held on that trace and
(3) inserts a ``Claim`` in a free slot. The partial unique indexes on ``Claim``
make a second holder of a slot, or a second claim by the same user, impossible
whatever the counters say; an ``IntegrityError`` just moves on to the next item.

On PostgreSQL the three steps are one statement per attempt (``claims_pg``):
one round trip instead of about eight, with the same indexes as the guard.
SQLite keeps the portable ORM path below, which is also the reference the
claim benchmark measures the statement against.
"""

from __future__ import annotations

import random
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from reflectlab.annotations.models import Annotation
from reflectlab.core.errors import ClaimLost
from reflectlab.projects.models import Project
from reflectlab.review import claims_pg, selectors
from reflectlab.review.models import DONE_STATES, Claim, GoldItem, QueueItem
from reflectlab.review.policy import project_policy
from reflectlab.review.queue import queue_counts_refresh, queue_sync
from reflectlab.traces.models import Trace

MAX_ATTEMPTS = 25
QUEUE_SYNC_SECONDS = 5.0
_synced_at: dict[int, float] = {}  # project id -> time.monotonic() of the last look


def _lease_write() -> None:
    """Claims are leases: losing the last few milliseconds of them in a database
    crash only returns those traces to the queue, so on PostgreSQL their
    transactions skip the WAL flush wait (``synchronous_commit`` off is still
    atomic and ordered; only durability of the newest commits is relaxed).
    This takes the claim latency from the disk's fsync time to the CPU's."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")


def claim_ttl() -> timedelta:
    return timedelta(seconds=settings.REFLECTLAB_CLAIM_TTL_SECONDS)


def claims_expire(*, project: Project | None = None, now: datetime | None = None) -> int:
    """Turn lapsed leases into ``expired``; their slots go back to the queue."""
    now = now or timezone.now()
    lapsed = Claim.objects.filter(state=Claim.State.ACTIVE, expires_at__lte=now)
    if project is not None:
        lapsed = lapsed.filter(project=project)
    if not lapsed.exists():
        return 0
    with transaction.atomic():
        _lease_write()
        rows = list(
            lapsed.select_for_update(skip_locked=True).values_list("pk", "project_id", "trace_id")[
                :1000
            ]
        )
        Claim.objects.filter(pk__in=[r[0] for r in rows], state=Claim.State.ACTIVE).update(
            state=Claim.State.EXPIRED, ended_at=now
        )
    by_project: dict[int, set[int]] = defaultdict(set)
    for _pk, project_id, trace_id in rows:
        by_project[project_id].add(trace_id)
    for project_id, trace_ids in by_project.items():
        target = project if project is not None else Project.objects.get(pk=project_id)
        queue_counts_refresh(project=target, trace_ids=trace_ids)
    return len(rows)


def claim_resume(*, project: Project, user, now: datetime | None = None) -> Claim | None:
    """The user's live annotate claim, closing any whose annotation was submitted
    (the workspace submitted without telling the queue: the work is done).

    The write half of ``selectors.current_claim``; called when claiming.
    """
    now = now or timezone.now()
    for claim, submitted in selectors.live_annotate_claims(project=project, user=user, now=now):
        if not submitted:
            return claim
        with transaction.atomic():
            _lease_write()
            Claim.objects.filter(pk=claim.pk, state=Claim.State.ACTIVE).update(
                state=Claim.State.DONE, ended_at=now
            )
    return None


def _candidates(project: Project, user, *, gold: bool):
    mine = Claim.objects.filter(
        trace_id=OuterRef("trace_id"),
        user_id=user.pk,
        kind=Claim.Kind.ANNOTATE,
        state__in=(Claim.State.ACTIVE, Claim.State.DONE, Claim.State.RELEASED),
    )
    done = Annotation.objects.filter(
        trace_id=OuterRef("trace_id"), annotator_id=user.pk, state__in=DONE_STATES
    )
    items = QueueItem.objects.filter(project=project, is_gold=gold)
    if not gold:
        items = items.filter(in_queue=True, is_open=True)
    return (
        items.exclude(Exists(mine)).exclude(Exists(done)).order_by("pin_order", "rank", "trace_id")
    )


def _try_claim(
    project: Project, user, item_qs, tried: set[int], now: datetime, *, gold: bool, wait: bool
) -> tuple[Claim | None, bool]:
    """One attempt in one transaction. Returns (claim, found_a_candidate).

    A unique-index violation rolls the whole attempt back (no savepoint needed:
    nothing else was written) and the caller moves on to the next item.
    """
    try:
        with transaction.atomic():
            _lease_write()
            locked = item_qs.exclude(pk__in=tried).select_for_update(skip_locked=not wait)
            item = locked.only("id", "trace_id").first()
            if item is None:
                return None, False
            tried.add(item.pk)
            slot = None
            if not gold:
                held = list(
                    Claim.objects.filter(
                        trace_id=item.trace_id, kind=Claim.Kind.ANNOTATE, state__in=Claim.HOLDING
                    ).values_list("slot", flat=True)
                )
                free = sorted(set(range(project.overlap)) - set(held))
                if len(held) >= project.overlap or not free:
                    QueueItem.objects.filter(pk=item.pk).update(n_taken=len(held), is_open=False)
                    return None, True
                slot = free[0]
                n = len(held) + 1
                QueueItem.objects.filter(pk=item.pk).update(n_taken=n, is_open=n < project.overlap)
            claim = Claim.objects.create(
                project=project,
                trace_id=item.trace_id,
                user_id=user.pk,
                kind=Claim.Kind.ANNOTATE,
                slot=slot,
                is_gold=gold,
                created_at=now,
                expires_at=now + claim_ttl(),
            )
    except IntegrityError:
        return None, True
    return claim, True


def _claim_from(project: Project, user, now: datetime, *, gold: bool) -> Claim | None:
    items = _candidates(project, user, gold=gold)
    tried: set[int] = set()
    for _ in range(MAX_ATTEMPTS):
        claim, found = _try_claim(project, user, items, tried, now, gold=gold, wait=False)
        if claim is not None:
            return claim
        if not found:
            # Everything left may be locked by other claimers for a moment:
            # wait for them once instead of wrongly answering "queue empty".
            claim, found = _try_claim(project, user, items, tried, now, gold=gold, wait=True)
            if claim is not None:
                return claim
            if not found:
                return None
    return None


def queue_next(
    *,
    project: Project,
    user,
    now: datetime | None = None,
    rng: Callable[[], float] = random.random,
) -> Claim | None:
    """Claim the next trace for ``user`` (or return the one they already hold).

    ``None`` means the queue has nothing left for this user.
    """
    now = now or timezone.now()
    current = claim_resume(project=project, user=user, now=now)
    if current is not None:
        return current
    if claims_pg.in_use():
        return _queue_next_pg(project, user, now, rng)
    claims_expire(project=project, now=now)
    # New traces join at once (one indexed query). The full pass (re-ranking
    # after re-analysis, drifted counters) stays off this path: it runs on
    # policy changes, on the queue page and in the ``queue_refresh`` task.
    queue_sync(project=project)
    policy = project_policy(project)
    if policy.gold_rate and rng() < policy.gold_rate:
        claim = _claim_from(project, user, now, gold=True)
        if claim is not None:
            return claim
    return _claim_from(project, user, now, gold=False)


def _claim_pg(
    project: Project, user, now: datetime, *, gold: bool, settle: bool = True
) -> tuple[Claim | None, claims_pg.Attempt | None]:
    """Claim with the single-statement path (``claims_pg``). Also returns the
    last attempt, whose probe says whether the project has leases to expire;
    with ``settle``, an empty answer returns at once when it has."""
    expires = now + claim_ttl()
    tried: list[int] = []
    wait = False
    last = None
    for _ in range(MAX_ATTEMPTS):
        attempt = claims_pg.claim_attempt(
            project_id=project.pk,
            user_id=user.pk,
            overlap=project.overlap,
            now=now,
            expires=expires,
            tried=tried,
            gold=gold,
            wait=wait,
        )
        if attempt is None:
            continue  # a concurrent claimer took the slot; a newer snapshot will see it
        last = attempt
        if attempt.claim_id is not None:
            claim = claims_pg.claim_instance(
                attempt, project=project, user_id=user.pk, gold=gold, now=now, expires=expires
            )
            return claim, attempt
        if attempt.item_id is not None:
            # Open by its counters but full: recount it from the claims, move on.
            tried.append(attempt.item_id)
            queue_counts_refresh(project=project, trace_ids=[attempt.trace_id])
            continue
        if wait or gold or (settle and attempt.lapsed):
            return None, attempt
        # Everything left may be locked by other claimers for a moment: wait
        # for them once instead of wrongly answering "queue empty".
        wait = True
    return None, last


def _queue_sync_due(project_id: int) -> bool:
    """Whether this process should look for new traces before claiming: at most
    every ``QUEUE_SYNC_SECONDS`` per project (the look is a scan of the
    project's root traces, too slow for every claim)."""
    now = time.monotonic()
    if now - _synced_at.get(project_id, -QUEUE_SYNC_SECONDS) < QUEUE_SYNC_SECONDS:
        return False
    _synced_at[project_id] = now
    return True


def _queue_next_pg(project: Project, user, now: datetime, rng: Callable[[], float]):
    """``queue_next`` on PostgreSQL: usually two queries, ``claim_resume`` and
    one claim statement (``claims_pg``).

    Housekeeping stays off the common path. Lapsed leases are expired when the
    claim statement's probe finds some (they serve the next claim). New traces
    join every ``QUEUE_SYNC_SECONDS`` per process. Whenever the claim comes back
    empty, both run and the claim is retried, so "queue empty" is never
    answered while a lapsed lease or an unsynced trace could fill it.
    """
    if _queue_sync_due(project.pk):
        queue_sync(project=project)
    policy = project_policy(project)
    if policy.gold_rate and rng() < policy.gold_rate:
        claim, _ = _claim_pg(project, user, now, gold=True)
        if claim is not None:
            return claim
    claim, attempt = _claim_pg(project, user, now, gold=False)
    if attempt is not None and attempt.lapsed:
        claims_expire(project=project, now=now)
    if claim is None:
        queue_sync(project=project)
        claim, _ = _claim_pg(project, user, now, gold=False, settle=False)
    return claim


def claim_heartbeat(*, claim_id: int, user, now: datetime | None = None) -> datetime:
    """Extend a live lease held by ``user``; raises ClaimLost otherwise."""
    now = now or timezone.now()
    expires = now + claim_ttl()
    with transaction.atomic():
        _lease_write()
        renewed = Claim.objects.filter(
            pk=claim_id, user_id=user.pk, state=Claim.State.ACTIVE, expires_at__gt=now
        ).update(expires_at=expires, heartbeat_at=now)
    if not renewed:
        raise ClaimLost("This claim has expired or is not yours.")
    return expires


def claim_release(*, claim: Claim, by, now: datetime | None = None) -> bool:
    """Give a claim back (skip). The holder may, and reviewers or managers may
    free anyone's stuck claim; the caller checks the role. False if not live."""
    now = now or timezone.now()
    with transaction.atomic():
        _lease_write()
        if claim.kind == Claim.Kind.ANNOTATE:
            # The item's lock first, as claimers take it (see queue_counts_refresh).
            list(QueueItem.objects.filter(trace_id=claim.trace_id).select_for_update().values("id"))
        released = Claim.objects.filter(pk=claim.pk, state=Claim.State.ACTIVE).update(
            state=Claim.State.RELEASED, ended_at=now
        )
        if released and claim.kind == Claim.Kind.ANNOTATE:
            queue_counts_refresh(project=claim.project, trace_ids=[claim.trace_id])
    return bool(released)


def claim_complete(*, trace: Trace, user, now: datetime | None = None) -> Claim | None:
    """Call when ``user`` submits an annotation of ``trace``: the claim becomes
    ``done`` and keeps its slot. Work done outside the queue (or after the
    lease ran out) is recorded too, in a free slot if one is left."""
    now = now or timezone.now()
    mine = Claim.objects.filter(trace=trace, user_id=user.pk, kind=Claim.Kind.ANNOTATE)
    if claims_pg.in_use():
        # The common case, as one prepared UPDATE … RETURNING (see claims_pg).
        if (done := claims_pg.claim_done(trace_id=trace.pk, user_id=user.pk, now=now)) is not None:
            return done
    elif mine.filter(state=Claim.State.ACTIVE).update(state=Claim.State.DONE, ended_at=now):
        return mine.filter(state=Claim.State.DONE).first()
    if (done := mine.filter(state=Claim.State.DONE).first()) is not None:
        return done
    project = trace.project
    with transaction.atomic():
        list(QueueItem.objects.filter(trace=trace).select_for_update())
        held = list(
            Claim.objects.filter(
                trace=trace, kind=Claim.Kind.ANNOTATE, state__in=Claim.HOLDING
            ).values_list("slot", flat=True)
        )
        free = sorted(set(range(project.overlap)) - set(held))
        slot = free[0] if free and len(held) < project.overlap else None
        try:
            with transaction.atomic():
                claim = Claim.objects.create(
                    project=project,
                    trace=trace,
                    user_id=user.pk,
                    kind=Claim.Kind.ANNOTATE,
                    slot=slot,
                    is_gold=GoldItem.objects.filter(trace=trace).exists(),
                    state=Claim.State.DONE,
                    created_at=now,
                    expires_at=now,
                    ended_at=now,
                )
        except IntegrityError:
            return mine.filter(state=Claim.State.DONE).first()
    queue_counts_refresh(project=project, trace_ids=[trace.pk])
    return claim
