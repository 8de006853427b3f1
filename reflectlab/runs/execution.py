"""The engine that executes one run inside one task (see ``services`` for the story).

One task execution = one *holder*. Its main thread is the dispatcher and the
writer; its worker threads only call the model (each request under an
endpoint slot, so the limit holds across workers), retry transient errors
with backoff, and analyse the response.

Throughput comes from keeping the threads busy without a database round trip
per request (DESIGN §11: 2,000 requests at concurrency 64 in <= 1.25 x the
ideal time):

* the dispatcher claims items in chunks (compare-and-set; ``SKIP LOCKED`` on
  PostgreSQL) and keeps some queued beyond the busy threads, so a
  thread that finishes an item starts the next one at once instead of waiting
  for the dispatcher's next claim. Queued items are claimed like running ones
  (the heartbeat renews them; a dead worker's are taken again; on
  cancellation they are recorded as cancelled, never sent);
* finished items are written in batches — traces, item states and the run's
  counters in one transaction, a handful of statements — at least every
  ``FLUSH_SECONDS`` (progress stays live) or every ``WRITE_BATCH`` items;
* endpoint slots come from a ``leases.SlotBlock``: taken from the database
  several at a time and handed to threads in memory.
"""

from __future__ import annotations

import logging
import queue
import random
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any

from django.db import DatabaseError, connection, connections, transaction
from django.db.models import F, OuterRef, Q, Subquery
from django.utils import timezone

from reflectlab.core.db import TRANSIENT_DB_ERRORS, db_backoff, db_reset, db_retry
from reflectlab.core.limits import MAX_ERROR_CHARS
from reflectlab.prompts.models import Prompt
from reflectlab.providers.base import (
    Generation,
    GenerationRequest,
    Provider,
    ProviderError,
)
from reflectlab.providers.models import ModelConfig
from reflectlab.providers.registry import endpoint_key, sampling_for
from reflectlab.runs import conf, leases
from reflectlab.runs.models import Run, RunItem, RunItemBase
from reflectlab.traces.models import Trace
from reflectlab.traces.services import trace_analyze

logger = logging.getLogger(__name__)

WRITE_BATCH = 256
FLUSH_SECONDS = 0.1  # finished items wait at most this long to be written
STATE_CHECK_SECONDS = 0.25  # cancellation is seen within this long
CLAIM_RETRY_SECONDS = 0.25  # after a claim came back short (nothing pending)
_STOP = object()


def backoff_seconds(attempt: int, retry_after: float | None = None) -> float:
    """Exponential backoff with jitter (AWS "equal jitter"); ``Retry-After`` is a floor."""
    base = conf.get("REFLECTLAB_RUN_BACKOFF_BASE")
    cap = conf.get("REFLECTLAB_RUN_BACKOFF_CAP")
    ceiling = min(cap, base * 2 ** max(0, attempt - 1))
    delay = ceiling / 2 + random.uniform(0, ceiling / 2)  # noqa: S311 (jitter, not crypto)
    if retry_after is not None:
        # The server knows best; only an absurd Retry-After is cut (to 5 min).
        delay = max(delay, min(retry_after, max(cap, 300.0)))
    return delay


def chat_messages(config: ModelConfig, prompt: Prompt) -> list[dict[str, Any]]:
    messages = prompt.chat_messages()
    if config.system_prompt and not any(m.get("role") == "system" for m in messages):
        messages = [{"role": "system", "content": config.system_prompt}, *messages]
    return messages


@dataclass
class Outcome:
    item: RunItem
    attempts: int
    trace: Trace | None = None
    error: str = ""
    cancelled: bool = False
    finished_at: float = 0.0


class Executor:
    def __init__(self, run: Run, provider: Provider, threads: int):
        self.run = run
        self.config = run.model_config
        self.provider = provider
        self.threads = threads
        self.holder = leases.new_holder()
        self.slots = leases.SlotBlock(
            leases.EndpointSemaphore(endpoint_key(self.config), self.config.max_concurrency),
            self.holder,
            want=threads,
        )
        self.skip_locked = connection.features.has_select_for_update_skip_locked
        self.work: queue.Queue = queue.Queue()
        self.results: queue.Queue[Outcome] = queue.Queue()
        self.stop = threading.Event()
        self.sampling = sampling_for(self.config)
        self._dead_checked = 0.0
        self._dead: list[str] = []

    # -- main thread: dispatch and write ----------------------------------------

    def execute(self, on_item: Callable[[], None] | None = None) -> None:
        claimed = 0  # claimed by us and not yet written (queued, running or finished)
        pending: list[Outcome] = []  # finished, not yet written
        exhausted = False
        next_check = next_claim = 0.0
        with self._heartbeat(), ThreadPoolExecutor(self.threads) as pool:
            futures = [pool.submit(self._thread_main) for _ in range(self.threads)]
            try:
                db_retry(self.slots.reserve, what="reserving endpoint slots")
                while True:
                    now = time.monotonic()
                    if now >= next_check:
                        next_check = now + STATE_CHECK_SECONDS
                        if not db_retry(self._still_running, what="checking the run's state"):
                            self.stop.set()
                        db_retry(self.slots.trim, what="trimming endpoint slots")
                    unfinished = claimed - len(pending)
                    room, chunk = self._room(unfinished)
                    if (
                        not self.stop.is_set()
                        and not exhausted
                        and room >= chunk
                        and (now >= next_claim or unfinished == 0)
                    ):
                        items = db_retry(partial(self._claim, room), what="claiming items")
                        for item in items:
                            self.work.put(item)
                        claimed += len(items)
                        unfinished += len(items)
                        if len(items) < room:
                            next_claim = now + CLAIM_RETRY_SECONDS
                        if not items and unfinished == 0 and not pending:
                            # Give back idle slots, so the others finish sooner.
                            db_retry(lambda: self.slots.trim(idle_seconds=0), what="freeing slots")
                            if db_retry(self._others_outstanding, what="checking other holders"):
                                time.sleep(random.uniform(1.0, 2.0))  # noqa: S311
                                continue
                            exhausted = True
                    self._collect(pending, timeout=self._wait(pending, unfinished, next_check))
                    unfinished = claimed - len(pending)
                    if pending and (
                        len(pending) >= WRITE_BATCH
                        or unfinished == 0
                        or time.monotonic() - pending[0].finished_at >= FLUSH_SECONDS
                    ):
                        self._write(pending)
                        claimed -= len(pending)
                        if on_item:
                            for _ in pending:
                                on_item()
                        pending = []
                    if claimed == 0 and (exhausted or self.stop.is_set()):
                        break
            finally:
                self.stop.set()
                for _ in futures:
                    self.work.put(_STOP)
                for future in futures:
                    future.result()
                self._collect(pending, timeout=0)
                try:
                    if pending:
                        self._write(pending)
                finally:
                    try:
                        db_retry(self.slots.close, what="giving back endpoint slots")
                    except DatabaseError:  # their leases expire by themselves
                        logger.exception("run %s: could not give back endpoint slots", self.run.pk)

    # -- what a kind of work defines (a judge run subclasses these; see judges.execution)

    def _heartbeat(self) -> leases.Heartbeat:
        return leases.Heartbeat(self.holder)

    def _still_running(self) -> bool:
        return Run.objects.filter(pk=self.run.pk, state=Run.State.RUNNING).exists()

    def _request(self, item: RunItem) -> GenerationRequest:
        return GenerationRequest(
            sampling=self.sampling, messages=chat_messages(self.config, item.prompt)
        )

    def _room(self, unfinished: int) -> tuple[int, int]:
        """How many items to claim now, and the least worth a claim.

        The target is the threads that have (or will get) an endpoint slot
        plus half as many queued: enough to cover a claim's round trip, few
        enough that a worker whose slots are all taken by another does not
        hoard items it cannot send (it claims one, so a thread waits for a slot).
        """
        usable = max(1, min(self.threads, self.slots.held))
        prefetch = max(1, usable // 2)
        return usable + prefetch - unfinished, max(1, prefetch // 2)

    def _wait(self, pending: list[Outcome], unfinished: int, next_check: float) -> float:
        """How long the dispatcher may block for the next result."""
        if unfinished == 0:
            return 0 if pending else 0.05
        deadline = next_check
        if pending:
            deadline = min(deadline, pending[0].finished_at + FLUSH_SECONDS)
        return max(0.0, deadline - time.monotonic())

    def _collect(self, pending: list[Outcome], *, timeout: float) -> None:
        """Move finished items from the threads into ``pending`` (block up to ``timeout``)."""
        try:
            if timeout > 0:
                pending.append(self.results.get(timeout=timeout))
            while len(pending) < WRITE_BATCH:
                pending.append(self.results.get_nowait())
        except queue.Empty:
            pass

    def _dead_holders(self) -> list[str]:
        if time.monotonic() - self._dead_checked > 2:
            holders = set(
                RunItem.objects.filter(run_id=self.run.pk, state=RunItem.State.RUNNING)
                .exclude(holder=self.holder)
                .values_list("holder", flat=True)
                .distinct()
            )
            self._dead = leases.dead_holders(holders)
            self._dead_checked = time.monotonic()
        return self._dead

    def _claim(self, n: int) -> list[RunItem]:
        """Take up to ``n`` items: pending, or running under an expired/dead claim."""
        claimable = Q(state=RunItem.State.PENDING) | Q(
            state=RunItem.State.RUNNING, lease_until__lt=timezone.now()
        )
        dead = self._dead_holders()
        if dead:
            claimable |= Q(state=RunItem.State.RUNNING, holder__in=dead)
        with transaction.atomic():
            queryset = RunItem.objects.filter(
                run_id=self.run.pk, run__state=Run.State.RUNNING
            ).filter(claimable)
            if self.skip_locked:
                queryset = queryset.select_for_update(skip_locked=True, of=("self",))
            items = list(queryset.order_by("id").select_related("prompt")[:n])
            if items:
                RunItem.objects.filter(pk__in=[i.pk for i in items]).update(
                    state=RunItem.State.RUNNING,
                    holder=self.holder,
                    lease_until=leases.lease_expiry(),
                )
        return items

    def _others_outstanding(self) -> bool:
        """Items other (live) holders still work on — they may yet die."""
        return (
            RunItem.objects.filter(
                run_id=self.run.pk, state=RunItem.State.RUNNING, run__state=Run.State.RUNNING
            )
            .exclude(holder=self.holder)
            .exists()
        )

    def _write(self, batch: list[Outcome]) -> None:
        """Record finished items, surviving a transient database error (retried:
        the write is one compare-and-set transaction) and a bad item (below)."""
        db_retry(lambda: self._write_isolating(batch), what="writing finished items")

    def _write_isolating(self, batch: list[Outcome]) -> None:
        """One bad item never blocks the batch: when the batch write is refused
        (a value the database will not store), each item is written alone, and an
        item that still cannot be stored is recorded as failed with the reason."""
        try:
            self._write_batch(batch)
            return
        except TRANSIENT_DB_ERRORS:
            raise
        except DatabaseError as exc:
            if len(batch) > 1:
                for outcome in batch:
                    self._write_isolating([outcome])
                return
            outcome = batch[0]
            if outcome.trace is None:
                raise
            logger.warning("run %s item %s: response not stored", self.run.pk, outcome.item.pk)
            reason = (str(exc).strip().splitlines() or [""])[0][:300]
            failed = Outcome(
                outcome.item,
                outcome.attempts,
                error=f"The response could not be stored: {type(exc).__name__}: {reason}",
            )
            self._write_batch([failed])

    def _ours(self, batch: list[Outcome], items: type[RunItemBase]) -> list[Outcome]:
        """The outcomes whose items we still hold (compare-and-set; locked on
        PostgreSQL until the caller's transaction ends)."""
        mine = items.objects.filter(
            pk__in=[o.item.pk for o in batch], holder=self.holder, state=items.State.RUNNING
        )
        if self.skip_locked:
            mine = mine.select_for_update(of=("self",))
        ours = set(mine.values_list("pk", flat=True))
        return [o for o in batch if o.item.pk in ours]

    @staticmethod
    def _groups(
        batch: list[Outcome], items: type[RunItemBase]
    ) -> dict[tuple[str, int, str], list[int]]:
        """Item ids per (state, attempts, error): one UPDATE per group, not per item.
        A stored error loses NULs (PostgreSQL text refuses them) and is bounded."""
        groups: dict[tuple[str, int, str], list[int]] = defaultdict(list)
        for o in batch:
            if o.trace is not None:
                key = (items.State.DONE, o.attempts, "")
            elif o.cancelled:
                key = (items.State.CANCELLED, o.attempts, o.item.error)
            else:
                key = (
                    items.State.FAILED,
                    o.attempts,
                    o.error.replace("\x00", "")[:MAX_ERROR_CHARS],
                )
            groups[key].append(o.item.pk)
        return groups

    def _write_batch(self, batch: list[Outcome]) -> None:
        """Record finished items; only those still claimed by us (compare-and-set).

        Items are updated per group of equal values (usually one group: done
        after one attempt), each done item's trace found by the trace's unique
        (run, prompt, sample_index) — a few statements per batch instead of a
        ``CASE`` per item and column, which cost more CPU than the requests.
        """
        with transaction.atomic():
            batch = self._ours(batch, RunItem)
            if not batch:
                return
            traces = [o.trace for o in batch if o.trace is not None]
            for trace in traces:  # a rolled-back earlier try may have set them
                trace.pk = None
            Trace.objects.bulk_create(traces)
            now = timezone.now()
            for (state, attempts, error), pks in self._groups(batch, RunItem).items():
                values: dict[str, Any] = {
                    "state": state, "attempts": attempts, "error": error,
                    "holder": "", "lease_until": None, "updated_at": now,
                }  # fmt: skip
                if state == RunItem.State.DONE:
                    values["trace_id"] = Subquery(
                        Trace.objects.filter(
                            run_id=OuterRef("run_id"),
                            prompt_id=OuterRef("prompt_id"),
                            sample_index=OuterRef("sample_index"),
                        ).values("pk")[:1]
                    )
                RunItem.objects.filter(pk__in=pks).update(**values)
            Run.objects.filter(pk=self.run.pk).update(
                items_done=F("items_done") + len(traces),
                items_failed=F("items_failed")
                + sum(1 for o in batch if o.trace is None and not o.cancelled),
                tokens_prompt=F("tokens_prompt") + sum(t.prompt_tokens or 0 for t in traces),
                tokens_completion=F("tokens_completion")
                + sum(t.completion_tokens or 0 for t in traces),
                latency_total_ms=F("latency_total_ms") + sum(t.latency_ms or 0 for t in traces),
            )

    # -- worker threads: call the model ---------------------------------------------

    def _thread_main(self) -> None:
        try:
            while True:
                item = self.work.get()
                if item is _STOP:
                    return
                try:
                    outcome = self._attempt(item)
                except Exception as exc:  # every claimed item must come back, or the run hangs
                    logger.exception("run %s item %s crashed", self.run.pk, item.pk)
                    outcome = Outcome(item, 0, error=f"Internal error: {type(exc).__name__}")
                outcome.finished_at = time.monotonic()
                self.results.put(outcome)
        finally:
            connections.close_all()  # this thread's connections only

    def _attempt(self, item: RunItem) -> Outcome:
        request = self._request(item)
        max_attempts = 1 + self.config.max_retries
        attempt = 0
        while True:
            if self.stop.is_set():  # cancelled before this item started
                return Outcome(item, attempt, cancelled=True)
            slot = None
            try:
                # A slot per request (not per item): the limit counts requests in
                # flight, so none is held while backing off or analysing.
                slot = self._acquire_slot()
                if slot is None:
                    return Outcome(item, attempt, cancelled=True)
                attempt += 1
                generation = self.provider.generate(request)
            except ProviderError as exc:
                if not exc.transient or attempt >= max_attempts:
                    tries = f" (after {attempt} attempts)" if attempt > 1 else ""
                    return Outcome(item, attempt, error=f"{exc}{tries}")
                self.slots.release(slot)
                slot = None
                if self.stop.wait(backoff_seconds(attempt, exc.retry_after)):
                    return Outcome(item, attempt, cancelled=True)
            except Exception as exc:  # a bug must not kill the thread silently
                logger.exception("run %s item %s crashed", self.run.pk, item.pk)
                return Outcome(item, attempt, error=f"Internal error: {type(exc).__name__}")
            else:
                self.slots.release(slot)
                slot = None
                return Outcome(item, attempt, trace=self._trace(item, generation))
            finally:
                if slot is not None:
                    self.slots.release(slot)

    def _acquire_slot(self) -> int | None:
        """An endpoint slot; a database error (slots live there) waits and tries again
        — it is not the item's fault, and its retries are not the model's."""
        failures = 0
        while True:
            try:
                return self.slots.acquire(stop=self.stop.is_set)
            except TRANSIENT_DB_ERRORS:
                failures += 1
                logger.warning("run %s: database error taking a slot, retrying", self.run.pk)
                db_reset()
                if self.stop.wait(db_backoff(failures)):
                    return None

    def _trace(self, item: RunItem, generation: Generation) -> Trace:
        trace = Trace(
            project=self.run.project,
            prompt=item.prompt,
            origin=Trace.Origin.RUN,
            state=Trace.State.READY,
            run_id=self.run.pk,
            sample_index=item.sample_index,
            model_name=self.config.model,
            model_config_id=self.config.pk,
            raw_response=generation.content,
            reasoning=generation.reasoning,
            finish_reason=generation.finish_reason[:32],
            prompt_tokens=generation.prompt_tokens,
            completion_tokens=generation.completion_tokens,
            reasoning_tokens=generation.reasoning_tokens,
            logprobs=generation.logprobs,
            latency_ms=generation.latency_ms,
            warnings=list(generation.warnings),
        )
        return trace_analyze(trace=trace, save=False)  # analysed on arrival
