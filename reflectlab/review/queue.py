"""The annotation queue: one ranked item per root trace, pins and gold items.

``QueueItem`` rows are the queue; their ``rank`` packs the manager's order keys
(``policy``) into one integer so the claim query sorts on an index. Its
``n_taken`` / ``is_open`` counters are hints kept by the claimers (``claims``)
and recounted here from the claims themselves.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Count, Exists, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from reflectlab.projects.models import Project
from reflectlab.review.models import Claim, GoldItem, QueueItem
from reflectlab.review.policy import QueuePolicy, project_policy
from reflectlab.traces.models import Trace

ANALYZE_AFTER_ITEMS = 1000  # queue_sync refreshes planner statistics after adding this many
TRACE_POLICY_FIELDS = (
    "id",
    "project",
    "parent",
    "state",
    "model_name",
    "run",
    "final_correct",
    "outcome",
    "has_corrective",
    "n_reflection_steps",
    "reflection_share",
    "truncated",
)


def _item_for(
    trace: Trace, policy: QueuePolicy, gold_ids: set[int], *, added: bool = False
) -> QueueItem:
    return QueueItem(
        project_id=trace.project_id,
        trace_id=trace.pk,
        rank=policy.rank(trace),
        in_queue=policy.admits(trace) or (added and _queueable(trace)),
        is_gold=trace.pk in gold_ids,
        added=added,
    )


def _queueable(trace: Trace) -> bool:
    """What a manager may add by hand: a ready root trace (never a branch)."""
    return trace.parent_id is None and trace.state == Trace.State.READY


def queue_sync(*, project: Project, full: bool = False) -> int:
    """Give new root traces a queue item; ``full`` also re-ranks every item.

    New traces are found by id watermark, before every claim on SQLite; on
    PostgreSQL every ``QUEUE_SYNC_SECONDS`` and whenever a claim comes back
    empty. Traces that became ready later (and items to re-rank after a policy
    change) need the full pass, which runs on policy changes and in the
    ``queue_refresh`` task (never on a page view: GETs do not write).
    """
    policy = project_policy(project)
    roots = policy.annotate(
        Trace.objects.filter(project=project, parent__isnull=True).only(*TRACE_POLICY_FIELDS),
        project_id=project.pk,
    )
    if not full:
        last = QueueItem.objects.filter(project=project).order_by("-trace_id").values("trace_id")
        fresh = list(roots.filter(pk__gt=Coalesce(Subquery(last[:1]), 0)))
        if not fresh:
            return 0
    gold_ids = set(GoldItem.objects.filter(project=project).values_list("trace_id", flat=True))
    if full:
        existing = {
            trace_id: (pk, added, rank, in_queue, is_gold)
            for pk, trace_id, added, rank, in_queue, is_gold in QueueItem.objects.filter(
                project=project
            ).values_list("id", "trace_id", "added", "rank", "in_queue", "is_gold")
        }
        new, changed = [], []
        for trace in roots.iterator(chunk_size=2000):
            if trace.pk not in existing:
                new.append(_item_for(trace, policy, gold_ids))
                continue
            pk, added, *values = existing[trace.pk]
            item = _item_for(trace, policy, gold_ids, added=added)
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


@dataclass(frozen=True)
class BulkOutcome:
    """What a bulk queue action did: ``changed`` traces, ``unchanged`` ones already
    so, and ``skipped`` ones (reason → count) it does not apply to."""

    verb: str
    changed: int
    unchanged: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    @property
    def message(self) -> str:
        text = f"{self.verb} {self.changed} trace{'' if self.changed == 1 else 's'}"
        if self.unchanged:
            text += f", {self.unchanged} already {self.verb.lower()}"
        parts = [text, *(f"{n} skipped: {why}" for why, n in self.skipped.items() if n)]
        return "; ".join([*parts, *self.notes]) + "."


BRANCHES_SKIPPED = "branches (branches never enter the queue; act on the original trace)"
NOT_READY_SKIPPED = "not ready (still pending analysis, or failed)"


def _items_ensure(project: Project, roots: QuerySet[Trace]) -> None:
    """Give every root trace in ``roots`` its queue item (normally ``queue_sync`` did).

    Streams in chunks, so a selection of any size is never held in memory.
    """
    policy = project_policy(project)
    missing = roots.exclude(Exists(QueueItem.objects.filter(trace_id=OuterRef("pk"))))
    missing = policy.annotate(
        missing.order_by("id").only(*TRACE_POLICY_FIELDS), project_id=project.pk
    )
    gold_ids = set(GoldItem.objects.filter(project=project).values_list("trace_id", flat=True))
    batch: list[QueueItem] = []
    for trace in missing.iterator(chunk_size=2000):
        batch.append(_item_for(trace, policy, gold_ids))
        if len(batch) >= 1000:
            QueueItem.objects.bulk_create(batch, ignore_conflicts=True)
            batch = []
    QueueItem.objects.bulk_create(batch, ignore_conflicts=True)


def _roots(project: Project, traces: QuerySet[Trace]) -> tuple[QuerySet[Trace], int]:
    """(the root traces among ``traces``, how many branches were among them)."""
    ids = traces.order_by().values("pk")
    base = Trace.objects.filter(project=project, pk__in=ids)
    return base.filter(parent__isnull=True), base.filter(parent__isnull=False).count()


@transaction.atomic
def queue_pin_traces(*, project: Project, traces: QuerySet[Trace], pinned: bool) -> BulkOutcome:
    """Pin (or unpin) every root trace of ``traces``, set-based: any number of them."""
    roots, branches = _roots(project, traces)
    queue_sync(project=project)
    _items_ensure(project, roots)
    items = QueueItem.objects.filter(project=project, trace_id__in=roots.values("pk"))
    if pinned:
        changed = items.filter(pin_order=1).update(pin_order=0, pinned_at=timezone.now())
    else:
        changed = items.filter(pin_order=0).update(pin_order=1, pinned_at=None)
    unchanged = roots.count() - changed
    notes: tuple[str, ...] = ()
    if pinned:
        outside = items.filter(in_queue=False, is_gold=False).count()
        if outside:
            notes = (f"{outside} of them are outside the queue and are served once queued",)
    return BulkOutcome(
        verb="Pinned" if pinned else "Unpinned",
        changed=changed,
        unchanged=unchanged,
        skipped={BRANCHES_SKIPPED: branches},
        notes=notes,
    )


@transaction.atomic
def queue_add_traces(*, project: Project, traces: QuerySet[Trace]) -> BulkOutcome:
    """Put every ready root trace of ``traces`` in the annotation queue, whatever the
    policy's filters say (``QueueItem.added``); those already in it are counted, not
    touched. Set-based: any number of traces."""
    roots, branches = _roots(project, traces)
    queue_sync(project=project)
    _items_ensure(project, roots)
    ready = roots.filter(state=Trace.State.READY)
    not_ready = roots.exclude(state=Trace.State.READY).count()
    items = QueueItem.objects.filter(project=project, trace_id__in=ready.values("pk"))
    unchanged = items.filter(in_queue=True).count()
    changed = items.filter(in_queue=False).update(in_queue=True, added=True)
    return BulkOutcome(
        verb="Queued",
        changed=changed,
        unchanged=unchanged,
        skipped={BRANCHES_SKIPPED: branches, NOT_READY_SKIPPED: not_ready},
    )


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
