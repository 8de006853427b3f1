"""Leases for long background jobs (imports, exports): one worker at a time, and
a dead worker's job taken up again.

A job row (``LeasedJob``) is claimed compare-and-set — from QUEUED, or from
RUNNING only when its lease has lapsed — by a *holder* (one task execution,
``host:pid:token``). While it works, a heartbeat thread pushes ``lease_until``
forward; when the heartbeat finds the row no longer ours (cancelled, or taken
over after our lease lapsed) it tells the work to stop. A worker killed
mid-job stops beating, so after ``REFLECTLAB_JOB_LEASE_SECONDS`` the job can
be claimed again: each app's ``worker_ready`` hook enqueues its lapsed and
queued jobs, and a redelivered message (``acks_late``) finds it claimable too.
Every finish is compare-and-set on the holder, so a worker that lost its lease
never overwrites the new holder's result.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import connections, models
from django.db.models import Q
from django.utils import timezone

from reflectlab.core.db import db_reset

logger = logging.getLogger(__name__)

HOST = socket.gethostname()[:60]


def job_lease_seconds() -> float:
    value = getattr(settings, "REFLECTLAB_JOB_LEASE_SECONDS", None)
    if value is None:
        value = os.environ.get("REFLECTLAB_JOB_LEASE_SECONDS", 60)
    return float(value)


def new_holder() -> str:
    return f"{HOST}:{os.getpid()}:{uuid.uuid4().hex[:10]}"


class LeasedJob(models.Model):
    """The two columns a claimable job needs (its model has QUEUED/RUNNING states)."""

    holder = models.CharField(max_length=100, blank=True, help_text="Who works on it.")
    lease_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True


def _claimable(model: type[LeasedJob]) -> Q:
    now = timezone.now()
    lapsed = Q(lease_until__lt=now) | Q(lease_until__isnull=True)
    return Q(state=model.State.QUEUED) | (Q(state=model.State.RUNNING) & lapsed)


def job_claim(*, model: type[LeasedJob], pk: int, holder: str, **values: Any) -> bool:
    """Take job ``pk`` for ``holder`` (compare-and-set); False: someone else has it."""
    lease = timezone.now() + timedelta(seconds=job_lease_seconds())
    return bool(
        model.objects.filter(pk=pk)
        .filter(_claimable(model))
        .update(state=model.State.RUNNING, holder=holder, lease_until=lease, **values)
    )


def job_release(*, model: type[LeasedJob], pk: int, holder: str) -> bool:
    """Hand a job we hold back to the queue (we will try again later)."""
    return bool(
        model.objects.filter(pk=pk, holder=holder, state=model.State.RUNNING).update(
            state=model.State.QUEUED, holder="", lease_until=None
        )
    )


def jobs_to_resume(model: type[LeasedJob]) -> list[int]:
    """Queued jobs and running jobs whose lease lapsed (their worker is gone)."""
    return list(model.objects.filter(_claimable(model)).order_by("pk").values_list("pk", flat=True))


class JobLease:
    """Renews a held job's lease in a thread; ``lost`` is set when the row is no
    longer ours (cancelled, finished elsewhere, taken over)."""

    def __init__(self, model: type[LeasedJob], pk: int, holder: str):
        self.model, self.pk, self.holder = model, pk, holder
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"lease-{holder}", daemon=True)

    def __enter__(self) -> JobLease:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _beat(self) -> None:
        interval = max(0.2, job_lease_seconds() / 4)
        try:
            while not self._stop.wait(interval):
                try:
                    lease = timezone.now() + timedelta(seconds=job_lease_seconds())
                    ours = self.model.objects.filter(
                        pk=self.pk, holder=self.holder, state=self.model.State.RUNNING
                    ).update(lease_until=lease)
                except Exception:  # a missed beat only shortens the lease
                    logger.exception("job lease heartbeat failed")
                    db_reset()
                    continue
                if not ours:
                    self.lost.set()
                    return
        finally:
            connections.close_all()
