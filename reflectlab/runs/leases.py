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

from django.db import connections
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
    """Renews every lease of one holder until stopped (a daemon thread)."""

    def __init__(self, holder: str):
        self.holder = holder
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
                    RunItem.objects.filter(holder=self.holder, state=RunItem.State.RUNNING).update(
                        lease_until=until
                    )
                except Exception:  # a missed beat only shortens the lease
                    logger.exception("lease heartbeat failed")
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

    def try_acquire(self, holder: str) -> int | None:
        candidates = list(
            EndpointSlot.objects.filter(endpoint=self.endpoint, index__lt=self.limit)
            .filter(self._free())
            .values_list("pk", flat=True)[:16]
        )
        random.shuffle(candidates)
        for pk in candidates:
            taken = (
                EndpointSlot.objects.filter(pk=pk)
                .filter(self._free())
                .update(holder=holder, lease_until=lease_expiry())
            )
            if taken:
                return pk
        self._reap_dead()
        return None

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
        EndpointSlot.objects.filter(pk=pk, holder=holder).update(holder="", lease_until=None)

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
