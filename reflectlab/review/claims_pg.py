"""The PostgreSQL claim path: one statement, one round trip, per step.

Three prepared statements serve an annotator's loop: ``LIVE_SQL`` (the claim
they already hold), ``CLAIM_SQL`` (claim the next trace) and ``DONE_SQL``
(their annotation was submitted). The rest of this docstring is about the claim.

The portable claim in ``claims`` (pick, read the held slots, update the
counters, insert: each its own query, in an explicit transaction) costs about
eight round trips. Here the same steps are one statement run in autocommit, so
it is its own transaction and costs one round trip:

1. ``pick`` locks the best open item this user has not had, ``FOR UPDATE SKIP
   LOCKED`` so that concurrent claimers take different items;
2. ``held`` / ``free`` find the lowest free slot of its trace;
3. ``ins`` inserts the claim in that slot and ``bump`` counts it on the item.

Why it stays correct. The statement's snapshot is taken before ``pick`` locks
its row, so ``held`` may miss a claim committed in between (the locked row
itself is re-read at its newest version, so its ``is_open`` is current). Then
the insert hits one of the partial unique indexes on ``Claim`` — still the only
guard against over-assignment — the whole statement rolls back, and the next
attempt runs with a newer snapshot. The counters are bumped *relative* to the
locked row's newest version, never set from the possibly stale ``held``, so a
stale snapshot can never close an item that still has a free slot. That keeps
them exact because every recount takes the item's row lock first and counts
after it (``queue.queue_counts_refresh``), and a release or an expiry is
followed by one. An item that is open but in fact full (a drifted hint) has
its counters recomputed from the claims and is skipped.

Lapsed leases are found by a cheap index probe folded into the same statement;
only when it answers yes does the caller expire them (``claims``), so the
common claim pays no extra query for expiry.

Claims are leases, so the statement sets ``synchronous_commit`` off for its own
transaction only (``set_config(..., true)``; read at commit time): losing the
newest leases in a server crash only returns those traces to the queue. Inside
a caller's transaction it runs in a savepoint and leaves durability alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, connection, transaction

from reflectlab.review.models import Claim

try:
    import psycopg
except ImportError:  # a SQLite install need not have the PostgreSQL driver
    psycopg = None

# Claim with one statement per attempt on PostgreSQL; False forces the portable
# ORM path in ``claims`` (benchmarks compare the two; tests run both).
SINGLE_STATEMENT = True


def in_use() -> bool:
    """Whether this connection takes the single-statement path."""
    return SINGLE_STATEMENT and psycopg is not None and connection.vendor == "postgresql"


# One statement for regular and gold work. Gold items take no slot and have
# no counters; the unique index on (trace, user) is all they need.
CLAIM_SQL = """
WITH pick AS (
    SELECT q.id, q.trace_id
    FROM review_queueitem q
    WHERE q.project_id = %(project)s AND q.is_gold = %(gold)s
      AND (%(gold)s OR (q.in_queue AND q.is_open))
      AND q.id <> ALL (%(tried)s::bigint[])
      AND NOT EXISTS (
        SELECT 1 FROM review_claim c
        WHERE c.trace_id = q.trace_id AND c.user_id = %(user)s
          AND c.kind = 'annotate' AND c.state IN ('active', 'done', 'released'))
      AND NOT EXISTS (
        SELECT 1 FROM annotations_annotation a
        WHERE a.trace_id = q.trace_id AND a.annotator_id = %(user)s
          AND a.state IN ('submitted', 'accepted', 'rejected'))
    ORDER BY q.pin_order, q.rank, q.trace_id
    LIMIT 1
    FOR UPDATE OF q SKIP LOCKED
), held AS (
    SELECT c.slot FROM review_claim c
    WHERE c.trace_id = (SELECT trace_id FROM pick)
      AND c.kind = 'annotate' AND c.state IN ('active', 'done')
), free AS (
    SELECT min(s.n) AS slot FROM generate_series(0, %(overlap)s - 1) AS s(n)
    WHERE (SELECT count(*) FROM held) < %(overlap)s
      AND s.n NOT IN (SELECT slot FROM held WHERE slot IS NOT NULL)
), ins AS (
    INSERT INTO review_claim
        (project_id, trace_id, user_id, kind, slot, is_gold, state, created_at, expires_at)
    SELECT %(project)s, pick.trace_id, %(user)s, 'annotate',
           CASE WHEN %(gold)s THEN NULL ELSE free.slot END, %(gold)s, 'active',
           %(now)s, %(expires)s
    FROM pick, free
    WHERE %(gold)s OR free.slot IS NOT NULL
    RETURNING id, trace_id, slot
), bump AS (
    UPDATE review_queueitem q
    SET n_taken = q.n_taken + 1, is_open = q.n_taken + 1 < %(overlap)s
    FROM pick, ins
    WHERE q.id = pick.id AND NOT %(gold)s
    RETURNING q.id
)
SELECT pick.id, pick.trace_id, ins.id, ins.slot,
    EXISTS (
        SELECT 1 FROM review_claim l
        WHERE l.project_id = %(project)s AND l.state = 'active' AND l.expires_at <= %(now)s
    ) AS lapsed,
    set_config(
        'synchronous_commit',
        CASE WHEN %(own_transaction)s THEN 'off' ELSE current_setting('synchronous_commit') END,
        true
    )
FROM (VALUES (1)) AS one (x)
LEFT JOIN pick ON true
LEFT JOIN ins ON true
"""
# ``gold`` is written into the text rather than bound, so that each variant's
# plan (prepared once per connection, see ``_fetch``) uses the pick index fully.
# Gold items are not locked: everybody may have them at once. ``wait``: after
# SKIP LOCKED found nothing, wait for the items other claimers hold.
VARIANTS = {
    (False, False): CLAIM_SQL.replace("%(gold)s", "false"),
    (False, True): CLAIM_SQL.replace("%(gold)s", "false").replace(" SKIP LOCKED", ""),
    (True, False): CLAIM_SQL.replace("%(gold)s", "true").replace("FOR UPDATE OF q SKIP LOCKED", ""),
}


# The user's live annotate claims, oldest first, and whether each one's trace
# already has their submitted annotation (``selectors.live_annotate_claims``).
LIVE_SQL = """
SELECT c.id, c.trace_id, c.slot, c.is_gold, c.created_at, c.expires_at, c.heartbeat_at,
    EXISTS (
        SELECT 1 FROM annotations_annotation a
        WHERE a.trace_id = c.trace_id AND a.annotator_id = %(user)s
          AND a.state IN ('submitted', 'accepted', 'rejected')
    ) AS submitted
FROM review_claim c
WHERE c.user_id = %(user)s AND c.kind = 'annotate' AND c.state = 'active'
  AND c.project_id = %(project)s AND c.expires_at > %(now)s
ORDER BY c.created_at, c.id
"""


# A submitted annotation ends its claim. No ``set_config`` here: "done" must
# survive a crash, or the slot would return to the queue.
DONE_SQL = """
UPDATE review_claim SET state = 'done', ended_at = %(now)s
WHERE trace_id = %(trace)s AND user_id = %(user)s AND kind = 'annotate' AND state = 'active'
RETURNING id, project_id, slot, is_gold, created_at, expires_at, heartbeat_at
"""


@dataclass
class Attempt:
    """What one claim statement did."""

    item_id: int | None  # the item it picked (None: no candidate)
    trace_id: int | None
    claim_id: int | None  # the claim it inserted (None: no free slot)
    slot: int | None
    lapsed: bool = False  # the project has leases to expire


def claim_attempt(
    *,
    project_id: int,
    user_id: int,
    overlap: int,
    now: datetime,
    expires: datetime,
    tried: list[int],
    gold: bool,
    wait: bool,
) -> Attempt | None:
    """Run one claim statement. ``None`` when a unique index refused the claim
    (a concurrent claimer won the slot): the caller tries again."""
    own_transaction = connection.get_autocommit()
    sql = VARIANTS[gold, wait]
    params = {
        "project": project_id,
        "user": user_id,
        "overlap": overlap,
        "now": now,
        "expires": expires,
        "tried": tried,
        "own_transaction": own_transaction,
    }
    try:
        if own_transaction:
            row = _fetch(sql, params)
        else:
            # A caller's transaction survives a refused claim through a savepoint.
            with transaction.atomic():
                row = _fetch(sql, params)
    except IntegrityError:
        return None
    return Attempt(*row[:5])


def live_claims(*, project, user_id: int, now: datetime) -> list[tuple[Claim, bool]]:
    """The user's live annotate claims as (claim, submitted) pairs, oldest first."""
    rows = _fetch(LIVE_SQL, {"project": project.pk, "user": user_id, "now": now}, many=True)
    return [
        (
            _loaded(
                Claim(
                    id=pk,
                    project=project,
                    trace_id=trace_id,
                    user_id=user_id,
                    kind=Claim.Kind.ANNOTATE,
                    slot=slot,
                    is_gold=is_gold,
                    state=Claim.State.ACTIVE,
                    created_at=created_at,
                    expires_at=expires_at,
                    heartbeat_at=heartbeat_at,
                )
            ),
            submitted,
        )
        for pk, trace_id, slot, is_gold, created_at, expires_at, heartbeat_at, submitted in rows
    ]


def claim_done(*, trace_id: int, user_id: int, now: datetime) -> Claim | None:
    """Mark the user's active claim on the trace done; None if there was none."""
    row = _fetch(DONE_SQL, {"trace": trace_id, "user": user_id, "now": now})
    if row is None:
        return None
    pk, project_id, slot, is_gold, created_at, expires_at, heartbeat_at = row
    return _loaded(
        Claim(
            id=pk,
            project_id=project_id,
            trace_id=trace_id,
            user_id=user_id,
            kind=Claim.Kind.ANNOTATE,
            slot=slot,
            is_gold=is_gold,
            state=Claim.State.DONE,
            created_at=created_at,
            expires_at=expires_at,
            heartbeat_at=heartbeat_at,
            ended_at=now,
        )
    )


def _fetch(sql: str, params: dict, *, many: bool = False):
    """Run the statement as a server-side prepared statement.

    Planning this statement costs several times its execution, and Django's
    cursors bind parameters client-side, so nothing would ever reuse a plan.
    A psycopg server-binding cursor on Django's own connection prepares it
    once per connection (psycopg keeps the cache and re-prepares after a
    reconnect). Errors are wrapped as Django's; the query is not in Django's
    debug query log. (Behind a transaction-pooling PgBouncer this needs its
    protocol-level prepared statement support, 1.21 or later.)
    """
    connection.ensure_connection()
    connection.validate_no_broken_transaction()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql, params, prepare=True)
        return cursor.fetchall() if many else cursor.fetchone()


def claim_instance(attempt: Attempt, *, project, user_id: int, gold: bool, now, expires) -> Claim:
    """The inserted claim as a model instance, without reading it back."""
    return _loaded(
        Claim(
            id=attempt.claim_id,
            project=project,
            trace_id=attempt.trace_id,
            user_id=user_id,
            kind=Claim.Kind.ANNOTATE,
            slot=attempt.slot,
            is_gold=gold,
            state=Claim.State.ACTIVE,
            created_at=now,
            expires_at=expires,
        )
    )


def _loaded(claim: Claim) -> Claim:
    """Mark an instance built from a row as one loaded from the database."""
    claim._state.adding = False
    claim._state.db = connection.alias
    return claim
