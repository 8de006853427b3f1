"""Claims that free themselves: holder ids, liveness, heartbeats, and the
per-endpoint semaphore shared by every worker through the database.

A *holder* is one task execution: ``host:pid:token``. Everything it claims
(endpoint slots, run items) carries that id and a ``lease_until``. A heartbeat
thread renews the leases while the process lives. When a process dies (SIGKILL,
OOM, power) its leases run out after ``REFLECTLAB_RUN_LEASE_SECONDS`` — and at
once when the dead process was on this host, which we can see with ``kill -0``.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import time
import uuid
from collections.abc import Callable
from datetime import timedelta

from django.db import connections, transaction
from django.db.models import Q
from django.utils import timezone

from reflectlab.runs import conf
from reflectlab.runs.models import EndpointSlot, RunItem

logger = logging.getLogger(__name__)
HOST = socket.gethostname()[:60]


def new_holder() -> str:
    return f"{HOST}:{os.getpid()}:{uuid.uuid4().hex[:10]}"


def holder_is_dead(holder: str) -> bool:
    """True when ``holder`` is a process on this host that no longer exists."""
    host, _, rest = holder.partition(":")
    pid_text = rest.partition(":")[0]
    if host != HOST or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def dead_holders(holders: set[str]) -> list[str]:
    return [h for h in holders if h and holder_is_dead(h)]


def lease_expiry() -> timezone.datetime:
    return timezone.now() + timedelta(seconds=conf.get("REFLECTLAB_RUN_LEASE_SECONDS"))


class Heartbeat:
    """Renews every lease of one holder until stopped (a daemon thread).

    ``item_models``: the work-item models whose running rows the holder claims
    (``RunItem``; a judge run's items too).
    """

    def __init__(self, holder: str, *, item_models: tuple[type, ...] = (RunItem,)):
        self.holder = holder
        self.item_models = item_models
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"heartbeat-{holder}", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _beat(self) -> None:
        interval = max(0.5, conf.get("REFLECTLAB_RUN_LEASE_SECONDS") / 4)
        try:
            while not self._stop.wait(interval):
                try:
                    until = lease_expiry()
                    EndpointSlot.objects.filter(holder=self.holder).update(lease_until=until)
                    for model in self.item_models:
                        model.objects.filter(holder=self.holder, state="running").update(
                            lease_until=until
                        )
                except Exception:  # a missed beat only shortens the lease
                    logger.exception("lease heartbeat failed")
                    connections.close_all()  # a broken connection: the next beat reconnects
        finally:
            connections.close_all()


class EndpointSemaphore:
    """At most ``limit`` requests in flight to one endpoint, across all workers.

    Slots are rows ``(endpoint, index < limit)``; taking one is a
    compare-and-set ``UPDATE … WHERE holder = '' OR lease expired``, which is
    atomic on SQLite (one writer) and PostgreSQL (the WHERE is re-checked
    after a concurrent update). Waiting polls with jittered backoff.
    """

    def __init__(self, endpoint: str, limit: int):
        self.endpoint = endpoint
        self.limit = max(1, int(limit))
        self._reaped_at = 0.0
        self._reap_lock = threading.Lock()
        EndpointSlot.objects.bulk_create(
            [EndpointSlot(endpoint=endpoint, index=i) for i in range(self.limit)],
            ignore_conflicts=True,
        )

    def _free(self) -> Q:
        return Q(holder="") | Q(lease_until__lt=timezone.now())

    def try_acquire_many(self, holder: str, n: int) -> list[int]:
        """Take up to ``n`` free slots in one write; the pks taken (maybe none)."""
        candidates = list(
            EndpointSlot.objects.filter(endpoint=self.endpoint, index__lt=self.limit)
            .filter(self._free())
            .exclude(holder=holder)  # a slot of ours whose lease ran out is not ours to reuse
            .values_list("pk", flat=True)
        )
        random.shuffle(candidates)  # two workers rarely contend for the same rows
        candidates = candidates[: max(1, n)]
        if candidates:
            with transaction.atomic():
                # Compare-and-set: the WHERE is re-checked per row (a row updated by
                # another worker meanwhile no longer matches), so only free slots move.
                EndpointSlot.objects.filter(pk__in=candidates).filter(self._free()).update(
                    holder=holder, lease_until=lease_expiry()
                )
                taken = list(
                    EndpointSlot.objects.filter(pk__in=candidates, holder=holder).values_list(
                        "pk", flat=True
                    )
                )
            if taken:
                return taken
        self._reap_dead()
        return []

    def try_acquire(self, holder: str) -> int | None:
        taken = self.try_acquire_many(holder, 1)
        return taken[0] if taken else None

    def acquire(self, holder: str, *, stop: Callable[[], bool] | None = None) -> int | None:
        """Block until a slot is free; None when ``stop()`` says give up."""
        delay = 0.02
        while True:
            pk = self.try_acquire(holder)
            if pk is not None:
                return pk
            if stop is not None and stop():
                return None
            time.sleep(delay * random.uniform(0.5, 1.5))  # noqa: S311 (jitter)
            delay = min(0.5, delay * 1.5)

    def release(self, pk: int, holder: str) -> None:
        self.release_many([pk], holder)

    def release_many(self, pks: list[int], holder: str) -> None:
        EndpointSlot.objects.filter(pk__in=pks, holder=holder).update(holder="", lease_until=None)

    def in_use(self) -> int:
        return EndpointSlot.objects.filter(endpoint=self.endpoint).exclude(self._free()).count()

    def _reap_dead(self) -> None:
        """Free slots of processes on this host that are gone (at most every 2 s)."""
        with self._reap_lock:
            if time.monotonic() - self._reaped_at < 2:
                return
            self._reaped_at = time.monotonic()
        holders = set(
            EndpointSlot.objects.filter(endpoint=self.endpoint)
            .exclude(holder="")
            .values_list("holder", flat=True)
        )
        dead = dead_holders(holders)
        if dead:
            logger.warning("freeing endpoint slots of dead workers: %s", dead)
            EndpointSlot.objects.filter(endpoint=self.endpoint, holder__in=dead).update(
                holder="", lease_until=None
            )


class SlotBlock:
    """The endpoint slots of one holder, shared in memory by its threads.

    Taking a slot from the database is a write (serialised on SQLite) and a
    round trip; done per request it costs more than the request's own CPU. A
    thread that finds no slot in memory takes, in one statement, as many free
    slots as there are threads waiting (only one thread of the holder asks the
    database at a time; the others wait on a condition), and a thread gives
    its slot back to the block, not to the database, after each request.

    The cross-worker limit stays exact: a thread calls the model only while it
    holds a slot that the database records as this holder's (the heartbeat
    renews them all), so requests in flight <= slots held <= limit. Slots left
    unused in memory for ``IDLE_SECONDS`` go back to the database (``trim``,
    called by the dispatcher), so an idle or finishing worker does not starve
    the others; ``close`` gives back the rest. As when each thread kept its own
    slot between items, a block whose threads stay busy keeps its slots: the
    limit is exact, the split between workers is first come, first served.
    """

    IDLE_SECONDS = 0.5

    def __init__(self, semaphore: EndpointSemaphore, holder: str, *, want: int = 1):
        self.semaphore = semaphore
        self.holder = holder
        self.want = want  # slots the holder can use at once (its threads)
        self.held = 0  # slots the database records as ours
        self._cond = threading.Condition()
        self._free: list[tuple[int, float]] = []  # (pk, freed at): a stack, hot slots first
        self._waiting = 0
        self._fetching = False
        self._retry_at = 0.0
        self._delay = 0.02

    def acquire(self, *, stop: Callable[[], bool] | None = None) -> int | None:
        """A slot for one request; None when ``stop()`` says give up."""
        with self._cond:
            self._waiting += 1
            try:
                while True:
                    if self._free:
                        return self._free.pop()[0]
                    if stop is not None and stop():
                        return None
                    now = time.monotonic()
                    if not self._fetching and now >= self._retry_at:
                        self._fetch()
                        continue
                    wait = self._retry_at - now if not self._fetching else 0.05
                    self._cond.wait(timeout=min(0.1, max(0.005, wait)))
            finally:
                self._waiting -= 1

    def _fetch(self) -> None:
        """Take slots from the database for the threads waiting (lock held on entry)."""
        self._fetching = True
        want = max(self._waiting, self.want - self.held)
        self._cond.release()
        try:
            taken = self.semaphore.try_acquire_many(self.holder, want)
        finally:
            self._cond.acquire()
            self._fetching = False
        if taken:
            now = time.monotonic()
            self._free.extend((pk, now) for pk in taken)
            self.held += len(taken)
            self._delay = 0.02
        else:  # all taken by others: poll again later, with jittered backoff
            self._retry_at = time.monotonic() + self._delay * random.uniform(0.5, 1.5)  # noqa: S311
            self._delay = min(0.5, self._delay * 1.5)
        self._cond.notify_all()

    def release(self, pk: int) -> None:
        with self._cond:
            self._free.append((pk, time.monotonic()))
            self._cond.notify()

    def reserve(self) -> None:
        """Take up to ``want`` slots now (the dispatcher, before its first claim)."""
        with self._cond:
            if not self._fetching:
                self._fetch()

    def trim(self, *, idle_seconds: float | None = None) -> None:
        """Give back to the database the slots unused here for ``idle_seconds``
        (default ``IDLE_SECONDS``; 0: every slot not in use)."""
        if idle_seconds is None:
            idle_seconds = self.IDLE_SECONDS
        cutoff = time.monotonic() - idle_seconds
        with self._cond:
            stale = [pk for pk, freed in self._free if freed <= cutoff]
            if not stale:
                return
            self._free = [(pk, freed) for pk, freed in self._free if freed > cutoff]
            self.held -= len(stale)
        self.semaphore.release_many(stale, self.holder)

    def close(self) -> None:
        """Give back every slot of this holder (its threads have stopped)."""
        with self._cond:
            self._free.clear()
            self.held = 0
        EndpointSlot.objects.filter(endpoint=self.semaphore.endpoint, holder=self.holder).update(
            holder="", lease_until=None
        )
