"""The engine that executes one run inside one task (see ``services`` for the story).

One task execution = one *holder*. Its main thread is the dispatcher and the
writer: it claims items in batches (compare-and-set; ``SKIP LOCKED`` on
PostgreSQL) for the threads that are idle, and writes finished items in
batches — traces, item states and the run's counters in one transaction, a
handful of statements for up to ``WRITE_BATCH`` items. The threads only call
the model (each holding an endpoint slot, so the limit holds across workers),
retry transient errors with backoff, and analyse the response.
"""

from __future__ import annotations

import logging
import queue
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from django.db import connection, connections, transaction
from django.db.models import F, Q
from django.utils import timezone

from reflectlab.prompts.models import Prompt
from reflectlab.providers.base import (
    Generation,
    GenerationRequest,
    Provider,
    ProviderError,
    sampling_for,
)
from reflectlab.providers.models import ModelConfig
from reflectlab.runs import conf, leases
from reflectlab.runs.models import Run, RunItem
from reflectlab.traces.models import Trace
from reflectlab.traces.services import trace_analyze

logger = logging.getLogger(__name__)

MAX_ERROR_CHARS = 2000
WRITE_BATCH = 200
POLL = 0.02
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


class Executor:
    def __init__(self, run: Run, provider: Provider, threads: int):
        self.run = run
        self.config = run.model_config
        self.provider = provider
        self.threads = threads
        self.holder = leases.new_holder()
        self.semaphore = leases.EndpointSemaphore(
            _endpoint(self.config), self.config.max_concurrency
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
        in_flight = 0
        exhausted = False
        last_state_check = 0.0
        with leases.Heartbeat(self.holder), ThreadPoolExecutor(self.threads) as pool:
            futures = [pool.submit(self._thread_main) for _ in range(self.threads)]
            try:
                while True:
                    if time.monotonic() - last_state_check > 0.25:
                        last_state_check = time.monotonic()
                        if not Run.objects.filter(pk=self.run.pk, state=Run.State.RUNNING).exists():
                            self.stop.set()
                    if not self.stop.is_set() and not exhausted and in_flight < self.threads:
                        claimed = self._claim(self.threads - in_flight)
                        for item in claimed:
                            self.work.put(item)
                        in_flight += len(claimed)
                        if not claimed and in_flight == 0:
                            if self._others_outstanding():
                                time.sleep(random.uniform(1.0, 2.0))  # noqa: S311
                                continue
                            exhausted = True
                    batch = self._drain(block=in_flight > 0)
                    if batch:
                        self._write(batch)
                        in_flight -= len(batch)
                        if on_item:
                            for _ in batch:
                                on_item()
                    if in_flight == 0 and (exhausted or self.stop.is_set()):
                        break
            finally:
                self.stop.set()
                for _ in futures:
                    self.work.put(_STOP)
                for future in futures:
                    future.result()
                leftover = self._drain(block=False)
                if leftover:
                    self._write(leftover)

    def _drain(self, *, block: bool) -> list[Outcome]:
        batch: list[Outcome] = []
        try:
            batch.append(self.results.get(timeout=POLL * 5) if block else self.results.get_nowait())
        except queue.Empty:
            return batch
        while len(batch) < WRITE_BATCH:
            try:
                batch.append(self.results.get_nowait())
            except queue.Empty:
                break
        return batch

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
        """Record finished items; only those still claimed by us (compare-and-set)."""
        with transaction.atomic():
            mine = RunItem.objects.filter(
                pk__in=[o.item.pk for o in batch], holder=self.holder, state=RunItem.State.RUNNING
            )
            if self.skip_locked:
                mine = mine.select_for_update(of=("self",))
            ours = set(mine.values_list("pk", flat=True))
            batch = [o for o in batch if o.item.pk in ours]
            if not batch:
                return
            traces = [o.trace for o in batch if o.trace is not None]
            Trace.objects.bulk_create(traces)
            items = []
            for o in batch:
                item = o.item
                item.attempts = o.attempts
                item.lease_until = None
                item.holder = ""
                if o.trace is not None:
                    item.state, item.trace, item.error = RunItem.State.DONE, o.trace, ""
                elif o.cancelled:
                    item.state = RunItem.State.CANCELLED
                else:
                    item.state, item.error = RunItem.State.FAILED, o.error[:MAX_ERROR_CHARS]
                items.append(item)
            RunItem.objects.bulk_update(
                items, ["state", "trace", "error", "attempts", "holder", "lease_until"]
            )
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
        slot: int | None = None
        try:
            while True:
                try:
                    item = self.work.get(timeout=0.5)
                except queue.Empty:
                    if slot is not None:  # idle: let other workers use the endpoint
                        self.semaphore.release(slot, self.holder)
                        slot = None
                    continue
                if item is _STOP:
                    return
                slot, outcome = self._attempt(item, slot)
                self.results.put(outcome)
        finally:
            if slot is not None:
                self.semaphore.release(slot, self.holder)
            connections.close_all()  # this thread's connections only

    def _attempt(self, item: RunItem, slot: int | None) -> tuple[int | None, Outcome]:
        request = GenerationRequest(
            sampling=self.sampling, messages=chat_messages(self.config, item.prompt)
        )
        max_attempts = 1 + self.config.max_retries
        attempt = 0
        while True:
            if self.stop.is_set():  # cancelled before this item started
                return slot, Outcome(item, attempt, cancelled=True)
            if slot is None:
                slot = self.semaphore.acquire(self.holder, stop=self.stop.is_set)
                if slot is None:
                    return None, Outcome(item, attempt, cancelled=True)
            attempt += 1
            try:
                generation = self.provider.generate(request)
            except ProviderError as exc:
                if not exc.transient or attempt >= max_attempts:
                    tries = f" (after {attempt} attempts)" if attempt > 1 else ""
                    return slot, Outcome(item, attempt, error=f"{exc}{tries}")
                # Free the slot while backing off: the limit counts requests in flight.
                self.semaphore.release(slot, self.holder)
                slot = None
                if self.stop.wait(backoff_seconds(attempt, exc.retry_after)):
                    return None, Outcome(item, attempt, cancelled=True)
            except Exception as exc:  # a bug must not kill the thread silently
                logger.exception("run %s item %s crashed", self.run.pk, item.pk)
                return slot, Outcome(item, attempt, error=f"Internal error: {type(exc).__name__}")
            else:
                return slot, Outcome(item, attempt, trace=self._trace(item, generation))

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
            logprobs=generation.logprobs,
            latency_ms=generation.latency_ms,
        )
        return trace_analyze(trace=trace, save=False)  # analysed on arrival


def _endpoint(config: ModelConfig) -> str:
    from reflectlab.providers.base import endpoint_key

    return endpoint_key(config)
