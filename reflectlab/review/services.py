"""Claiming, leases, queue policy, gold items and review decisions.

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
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, Exists, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from reflectlab.annotations.models import Annotation
from reflectlab.projects.models import Project
from reflectlab.review import claims_pg
from reflectlab.review.models import Claim, GoldItem, QueueItem, Review
from reflectlab.review.policy import QueuePolicy
from reflectlab.traces.models import Trace

MAX_ATTEMPTS = 25
# On PostgreSQL, claim with one statement per attempt (``claims_pg``); False
# forces the portable path (benchmarks compare the two; tests run both).
PG_SINGLE_STATEMENT = True
QUEUE_SYNC_SECONDS = 5.0
ANALYZE_AFTER_ITEMS = 1000  # queue_sync refreshes planner statistics after adding this many
_synced_at: dict[int, float] = {}  # project id -> time.monotonic() of the last look
DONE_STATES = (
    Annotation.State.SUBMITTED,
    Annotation.State.ACCEPTED,
    Annotation.State.REJECTED,
)
TRACE_POLICY_FIELDS = (
    "id",
    "project",
    "parent",
    "state",
    "model_name",
    "run",
    "final_correct",
    "has_corrective",
    "n_reflection_steps",
    "reflection_share",
    "truncated",
)


class Conflict(Exception):
    """Someone else changed the object first (HTTP 409)."""


class ClaimLost(Conflict):
    """The claim is no longer held by this user (expired, released or not theirs)."""


def _lease_write() -> None:
    """Claims are leases: losing the last few milliseconds of them in a database
    crash only returns those traces to the queue, so on PostgreSQL their
    transactions skip the WAL flush wait (``synchronous_commit`` off is still
    atomic and ordered; only durability of the newest commits is relaxed).
    This takes the claim latency from the disk's fsync time to the CPU's."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")


def _single_statement() -> bool:
    return PG_SINGLE_STATEMENT and connection.vendor == "postgresql"


def claim_ttl() -> timedelta:
    return timedelta(seconds=settings.REFLECTLAB_CLAIM_TTL_SECONDS)


def project_policy(project: Project) -> QueuePolicy:
    try:
        return QueuePolicy.from_json(project.queue_policy)
    except ValidationError:
        return QueuePolicy()


# ----- queue items --------------------------------------------------------------


def _item_for(trace: Trace, policy: QueuePolicy, gold_ids: set[int]) -> QueueItem:
    return QueueItem(
        project_id=trace.project_id,
        trace_id=trace.pk,
        rank=policy.rank(trace),
        in_queue=policy.admits(trace),
        is_gold=trace.pk in gold_ids,
    )


def queue_sync(*, project: Project, full: bool = False) -> int:
    """Give new root traces a queue item; ``full`` also re-ranks every item.

    New traces are found by id watermark, before every claim on SQLite; on
    PostgreSQL every ``QUEUE_SYNC_SECONDS`` and whenever a claim comes back
    empty. Traces that became ready later (and items to re-rank after a policy
    change) need the full pass, which runs on policy changes, on the queue page
    and in the ``queue_refresh`` task.
    """
    roots = Trace.objects.filter(project=project, parent__isnull=True).only(*TRACE_POLICY_FIELDS)
    if not full:
        last = QueueItem.objects.filter(project=project).order_by("-trace_id").values("trace_id")
        fresh = list(roots.filter(pk__gt=Coalesce(Subquery(last[:1]), 0)))
        if not fresh:
            return 0
    policy = project_policy(project)
    gold_ids = set(GoldItem.objects.filter(project=project).values_list("trace_id", flat=True))
    if full:
        existing = {
            trace_id: (pk, rank, in_queue, is_gold)
            for pk, trace_id, rank, in_queue, is_gold in QueueItem.objects.filter(
                project=project
            ).values_list("id", "trace_id", "rank", "in_queue", "is_gold")
        }
        new, changed = [], []
        for trace in roots.iterator(chunk_size=2000):
            item = _item_for(trace, policy, gold_ids)
            if trace.pk not in existing:
                new.append(item)
                continue
            pk, *values = existing[trace.pk]
            if values != [item.rank, item.in_queue, item.is_gold]:
                item.pk = pk
                changed.append(item)
        # Only rows that really changed: usually none, so the periodic pass
        # never holds locks the claimers would have to wait for.
        QueueItem.objects.bulk_update(changed, ["rank", "in_queue", "is_gold"], batch_size=500)
    else:
        new = [_item_for(t, policy, gold_ids) for t in fresh]
    QueueItem.objects.bulk_create(new, ignore_conflicts=True, batch_size=1000)
    if len(new) >= ANALYZE_AFTER_ITEMS and connection.vendor == "postgresql":
        # A new project's items are missing from the planner's statistics until
        # autovacuum gets to them (up to a minute or more); meanwhile it takes
        # the whole queue for one row and picks a plan that reads and sorts all
        # of it on every claim. Refresh them now: it samples, so it is quick.
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {QueueItem._meta.db_table}")
    if full:
        queue_counts_refresh(project=project)
    return len(new)


def queue_counts_refresh(*, project: Project, trace_ids: Iterable[int] | None = None) -> None:
    """Recompute the ``n_taken`` / ``is_open`` hints from the claims themselves.

    Claimers change an item's counters while holding its row lock, and on
    PostgreSQL relative to their current value (``claims_pg``), so a recount
    takes the same locks first (in id order) and counts after them: under READ
    COMMITTED the counting query then sees every claim committed before the
    locks were granted, and two recounts can no longer each count the other's
    released claim and leave an item closed with a free slot. The full pass
    (no ``trace_ids``) first finds drifted items without any lock — usually
    none — and recounts only those, so it never makes claimers wait.
    """
    if trace_ids is None:
        trace_ids = [trace_id for trace_id, *_ in _counts_drifted(project, locked=False)]
        if not trace_ids:
            return
    with transaction.atomic(savepoint=False):
        drifted = _counts_drifted(project, locked=True, trace_ids=list(trace_ids))
        groups: dict[tuple[int, bool], list[int]] = defaultdict(list)
        for trace_id, n, is_open in drifted:
            groups[(n, is_open)].append(trace_id)
        for (n, is_open), ids in groups.items():
            QueueItem.objects.filter(project=project, trace_id__in=ids).update(
                n_taken=n, is_open=is_open
            )


def _counts_drifted(
    project: Project, *, locked: bool, trace_ids: list[int] | None = None
) -> list[tuple[int, int, bool]]:
    """(trace id, true count, true is_open) of the items whose hints are wrong."""
    items = QueueItem.objects.filter(project=project).order_by("id")
    held = Claim.objects.filter(project=project, kind=Claim.Kind.ANNOTATE, state__in=Claim.HOLDING)
    if trace_ids is not None:
        items = items.filter(trace_id__in=trace_ids)
        held = held.filter(trace_id__in=trace_ids)
    if locked:
        items = items.select_for_update()
    # Evaluated before counting: with ``locked``, the count must come after the locks.
    current = list(items.values_list("trace_id", "n_taken", "is_open"))
    counts = dict(held.values("trace_id").annotate(n=Count("id")).values_list("trace_id", "n"))
    drifted = []
    for trace_id, n_taken, is_open in current:
        n = counts.get(trace_id, 0)
        if (n, n < project.overlap) != (n_taken, is_open):
            drifted.append((trace_id, n, n < project.overlap))
    return drifted


# ----- claims: annotate ---------------------------------------------------------


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


def current_claim(*, project: Project, user, now: datetime | None = None) -> Claim | None:
    """The user's live annotate claim, closing any whose annotation was submitted."""
    now = now or timezone.now()
    if _single_statement():
        # Same query, prepared once per connection: on the claim path the
        # ORM's query building would cost more than the query itself.
        live = claims_pg.live_claims(project=project, user_id=user.pk, now=now)
    else:
        submitted = Annotation.objects.filter(
            trace_id=OuterRef("trace_id"), annotator_id=user.pk, state__in=DONE_STATES
        )
        live = [
            (claim, claim.submitted)
            for claim in Claim.objects.filter(
                project=project,
                user_id=user.pk,
                kind=Claim.Kind.ANNOTATE,
                state=Claim.State.ACTIVE,
                expires_at__gt=now,
            )
            .annotate(submitted=Exists(submitted))
            .order_by("created_at", "id")
        ]
    for claim, submitted in live:
        if submitted:
            # The workspace submitted without telling us: the work is done.
            with transaction.atomic():
                _lease_write()
                Claim.objects.filter(pk=claim.pk, state=Claim.State.ACTIVE).update(
                    state=Claim.State.DONE, ended_at=now
                )
            continue
        return claim
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
    current = current_claim(project=project, user=user, now=now)
    if current is not None:
        return current
    if _single_statement():
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
    """``queue_next`` on PostgreSQL: usually two queries, ``current_claim`` and
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
    if _single_statement():
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


# ----- claims: review -----------------------------------------------------------


def current_review_claim(*, project: Project, user, now: datetime | None = None) -> Claim | None:
    now = now or timezone.now()
    return (
        Claim.objects.filter(
            project=project,
            user_id=user.pk,
            kind=Claim.Kind.REVIEW,
            state=Claim.State.ACTIVE,
            expires_at__gt=now,
            annotation__state=Annotation.State.SUBMITTED,
        )
        .order_by("created_at", "id")
        .first()
    )


def review_candidates(*, project: Project, user) -> list[Annotation]:
    """Submitted annotations the user may review, in policy order: disagreements
    first (when the policy says so), then the oldest submission."""
    from reflectlab.review.agreement import disagree
    from reflectlab.review.selectors import rating_of

    held = Claim.objects.filter(
        annotation_id=OuterRef("pk"), kind=Claim.Kind.REVIEW, state=Claim.State.ACTIVE
    )
    candidates = list(
        Annotation.objects.filter(project=project, state=Annotation.State.SUBMITTED)
        .exclude(annotator_id=user.pk)
        .exclude(trace__gold__isnull=False)
        .exclude(Exists(held))
        .order_by("submitted_at", "id")[:500]
    )
    if not candidates or not project_policy(project).review_disagreements_first:
        return candidates
    siblings: dict[int, list[Annotation]] = defaultdict(list)
    for other in Annotation.objects.filter(
        trace_id__in={a.trace_id for a in candidates}, state__in=DONE_STATES
    ):
        siblings[other.trace_id].append(other)

    def disputed(annotation: Annotation) -> bool:
        mine = rating_of(annotation)
        return any(
            disagree(mine, rating_of(o))
            for o in siblings[annotation.trace_id]
            if o.pk != annotation.pk
        )

    return sorted(candidates, key=lambda a: not disputed(a))


def review_next(*, project: Project, user, now: datetime | None = None) -> Claim | None:
    """Claim the next submitted annotation to review (or the one already held)."""
    now = now or timezone.now()
    current = current_review_claim(project=project, user=user, now=now)
    if current is not None:
        return current
    claims_expire(project=project, now=now)
    for annotation in review_candidates(project=project, user=user)[:MAX_ATTEMPTS]:
        try:
            with transaction.atomic():
                if not Annotation.objects.filter(
                    pk=annotation.pk, state=Annotation.State.SUBMITTED
                ).exists():
                    continue
                return Claim.objects.create(
                    project=project,
                    trace_id=annotation.trace_id,
                    annotation=annotation,
                    user_id=user.pk,
                    kind=Claim.Kind.REVIEW,
                    slot=0,
                    created_at=now,
                    expires_at=now + claim_ttl(),
                )
        except IntegrityError:
            continue
    return None


# ----- review decisions ---------------------------------------------------------

EDITABLE = (
    "step_labels",
    "first_error_step",
    "error_category",
    "hint",
    "critique",
    "verdict",
    "violated_principles",
)


def annotation_snapshot(annotation: Annotation) -> dict[str, Any]:
    return {
        "step_labels": annotation.step_labels,
        "first_error_step": annotation.first_error_step,
        "error_category": annotation.error_category,
        "hint": annotation.hint,
        "hint_step": annotation.hint_step,
        "branch_id": annotation.branch_id,
        "critique": annotation.critique,
        "verdict": annotation.verdict,
        "violated_principles": annotation.violated_principles,
        "time_spent_seconds": annotation.time_spent_seconds,
        "version": annotation.version,
        "submitted_at": annotation.submitted_at.isoformat() if annotation.submitted_at else None,
    }


def clean_edits(edits: dict[str, Any], annotation: Annotation) -> dict[str, Any]:
    """Validate a reviewer's edits; keep only fields that really change."""
    unknown = set(edits) - set(EDITABLE)
    if unknown:
        raise ValidationError(f"Cannot edit: {', '.join(sorted(unknown))}.")
    clean: dict[str, Any] = {}
    for name, value in edits.items():
        if name == "step_labels":
            if not isinstance(value, dict):
                raise ValidationError("step_labels must map step numbers to -1, 0 or 1.")
            labels = {}
            for step, label in value.items():
                if not str(step).isdigit() or label not in (-1, 0, 1) or isinstance(label, bool):
                    raise ValidationError("step_labels must map step numbers to -1, 0 or 1.")
                labels[str(int(step))] = label
            value = labels
        elif name == "first_error_step":
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or value < -1
            ):
                raise ValidationError("first_error_step must be a step index, or -1 for no error.")
        elif name == "verdict":
            if value not in Annotation.Verdict.values:
                raise ValidationError("verdict must be correct, incorrect or empty.")
        elif name == "violated_principles":
            if not isinstance(value, list) or not all(isinstance(p, str) for p in value):
                raise ValidationError("violated_principles must be a list of principles.")
        elif not isinstance(value, str):
            raise ValidationError(f"{name} must be text.")
        if value != getattr(annotation, name):
            clean[name] = value
    return clean


@transaction.atomic
def review_decide(
    *,
    annotation: Annotation,
    reviewer,
    decision: str,
    comment: str = "",
    edits: dict[str, Any] | None = None,
    version: int | None = None,
    now: datetime | None = None,
) -> Review:
    """Accept, reject (with a comment: the annotation returns to its author) or
    edit (the reviewer's values become the annotation's, the original is kept
    on the Review). Compare-and-set on (state, version): a stale decision is a
    Conflict."""
    now = now or timezone.now()
    if decision not in Review.Decision.values:
        raise ValidationError("decision must be accept, reject or edit.")
    if annotation.annotator_id == reviewer.pk:
        raise PermissionDenied("You cannot review your own annotation.")
    version = annotation.version if version is None else version
    comment = (comment or "").strip()
    if decision == Review.Decision.REJECT and not comment:
        raise ValidationError("Say why you reject it: the comment goes to the annotator.")
    if annotation.state != Annotation.State.SUBMITTED:
        raise Conflict(
            f"This annotation is {annotation.get_state_display().lower()}, not submitted."
        )
    changes = clean_edits(edits or {}, annotation) if decision == Review.Decision.EDIT else {}
    if decision == Review.Decision.EDIT and not changes:
        raise ValidationError("Nothing was edited; accept it instead.")
    other = Claim.objects.filter(
        annotation=annotation, kind=Claim.Kind.REVIEW, state=Claim.State.ACTIVE, expires_at__gt=now
    ).exclude(user_id=reviewer.pk)
    if other.exists():
        raise Conflict("Another reviewer holds this annotation.")
    snapshot = annotation_snapshot(annotation)
    new_state = (
        Annotation.State.REJECTED
        if decision == Review.Decision.REJECT
        else Annotation.State.ACCEPTED
    )
    updated = Annotation.objects.filter(
        pk=annotation.pk, state=Annotation.State.SUBMITTED, version=version
    ).update(state=new_state, version=version + 1, updated_at=now, **changes)
    if not updated:
        raise Conflict("The annotation changed since you opened it; reload and decide again.")
    started = (
        Claim.objects.filter(annotation=annotation, kind=Claim.Kind.REVIEW, user_id=reviewer.pk)
        .order_by("-created_at")
        .values_list("created_at", flat=True)
        .first()
    )
    Claim.objects.filter(
        annotation=annotation, kind=Claim.Kind.REVIEW, state=Claim.State.ACTIVE
    ).update(state=Claim.State.DONE, ended_at=now)
    annotation.refresh_from_db()
    return Review.objects.create(
        project_id=annotation.project_id,
        annotation=annotation,
        reviewer=reviewer,
        decision=decision,
        comment=comment,
        edits=changes,
        original=snapshot,
        annotation_version=version,
        started_at=started,
        created_at=now,
    )


# ----- manager settings ---------------------------------------------------------


def queue_policy_set(*, project: Project, policy: dict[str, Any]) -> QueuePolicy:
    parsed = QueuePolicy.from_json(policy)
    Project.objects.filter(pk=project.pk).update(queue_policy=parsed.to_json())
    project.queue_policy = parsed.to_json()
    queue_sync(project=project, full=True)
    return parsed


def _root_trace(project: Project, trace_id: int) -> Trace:
    trace = Trace.objects.filter(project=project, pk=trace_id).first()
    if trace is None:
        raise ValidationError(f"Trace {trace_id} is not in this project.")
    if trace.parent_id is not None:
        raise ValidationError("Branches never enter the queue; pin the original trace.")
    return trace


def queue_pin(*, project: Project, trace_id: int, pinned: bool = True) -> QueueItem:
    trace = _root_trace(project, trace_id)
    queue_sync(project=project)
    item, _ = QueueItem.objects.get_or_create(
        trace=trace,
        defaults={"project": project, "rank": project_policy(project).rank(trace)},
    )
    QueueItem.objects.filter(pk=item.pk).update(
        pin_order=0 if pinned else 1, pinned_at=timezone.now() if pinned else None
    )
    item.refresh_from_db()
    return item


def gold_set(
    *,
    project: Project,
    trace_id: int,
    expected_first_error_step: int | None,
    expected_verdict: str = "",
    note: str = "",
) -> GoldItem:
    trace = _root_trace(project, trace_id)
    if expected_first_error_step is None and not expected_verdict:
        raise ValidationError("A gold item needs an expected first error or verdict.")
    if expected_first_error_step is not None and expected_first_error_step < -1:
        raise ValidationError("The expected first error is a step index, or -1 for no error.")
    gold, _ = GoldItem.objects.update_or_create(
        trace=trace,
        defaults={
            "project": project,
            "expected_first_error_step": expected_first_error_step,
            "expected_verdict": expected_verdict,
            "note": note,
        },
    )
    queue_sync(project=project)
    QueueItem.objects.filter(trace=trace).update(is_gold=True)
    return gold


def gold_remove(*, gold: GoldItem) -> None:
    trace_id = gold.trace_id
    gold.delete()
    QueueItem.objects.filter(trace_id=trace_id).update(is_gold=False)
