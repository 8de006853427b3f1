"""Thin, idempotent tasks on the ``models`` queue (settings.CELERY_TASK_ROUTES).

``acks_late``: a task whose worker dies is delivered again (Redis, after the
visibility timeout); on every worker start ``runs_resume`` enqueues unfinished
work at once as well, which also covers brokers that cannot redeliver (the
filesystem transport). Both are safe because the services claim work
compare-and-set and traces are unique per (run, prompt, sample).

A database outage longer than the executor's own retries
(``REFLECTLAB_DB_RETRY_SECONDS``) ends the task with a transient database
error; the task then retries itself with backoff and jitter and resumes the
run where it stopped.
"""

from __future__ import annotations

import logging

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from celery.signals import worker_ready

from reflectlab.core.db import TRANSIENT_DB_ERRORS, db_backoff, db_reset
from reflectlab.runs import batch, batch_remote, continuation, services

logger = logging.getLogger(__name__)

# A run can take hours; the provider timeouts bound each request, not the task.
RUN_SOFT_LIMIT = 24 * 3600
CONTINUE_SOFT_LIMIT = 2 * 3600


DB_RETRIES = 50  # with the backoff below: hours of outage before giving up


@shared_task(
    bind=True,
    acks_late=True,
    soft_time_limit=RUN_SOFT_LIMIT,
    time_limit=RUN_SOFT_LIMIT + 300,
    max_retries=DB_RETRIES,
)
def run_execute_task(self, run_id: int) -> None:
    try:
        services.run_execute(run_id=run_id)
    except TRANSIENT_DB_ERRORS as exc:
        db_reset()
        countdown = db_backoff(self.request.retries + 1, base=2.0, cap=300.0)
        logger.warning("run %s: database unavailable, retrying in %.0fs", run_id, countdown)
        raise self.retry(exc=exc, countdown=countdown) from None


@shared_task(
    acks_late=True, soft_time_limit=CONTINUE_SOFT_LIMIT, time_limit=CONTINUE_SOFT_LIMIT + 300
)
def trace_continue_task(branch_id: int, config_id: int) -> None:
    try:
        continuation.trace_continue(branch_id=branch_id, config_id=config_id)
    except SoftTimeLimitExceeded as exc:  # raised outside the service's own guard
        continuation.trace_continue_fail(
            branch_id=branch_id, reason=continuation.failure_reason(exc, after_answer=False)
        )


BATCH_POLL_SECONDS = 30


@shared_task(acks_late=True, soft_time_limit=3600, time_limit=3900)
def run_batch_submit_task(run_id: int) -> None:
    """Submit once (the service skips a submitted run), then start polling."""
    batch_remote.run_batch_submit(run_id=run_id)
    run_batch_poll_task.apply_async((run_id,), countdown=BATCH_POLL_SECONDS)


@shared_task(acks_late=True, soft_time_limit=3600, time_limit=3900)
def run_batch_poll_task(run_id: int, every: float = BATCH_POLL_SECONDS) -> None:
    """Poll until the batch is done; each poll is idempotent (results import once)."""
    status = batch_remote.run_batch_poll(run_id=run_id)
    if status not in {"completed", *batch_remote.TERMINAL_FAILURES}:
        run_batch_poll_task.apply_async((run_id, every), countdown=every)


@shared_task(acks_late=True, soft_time_limit=6 * 3600, time_limit=6 * 3600 + 300)
def run_batch_import_task(run_id: int, key: str) -> None:
    """Idempotent: items already done are skipped."""
    batch.run_batch_import_stored(run_id=run_id, key=key)


@worker_ready.connect
def _resume_unfinished_work(sender=None, **kwargs) -> None:
    try:
        count = services.runs_resume()
    except Exception:  # e.g. a database not migrated yet: never stop the worker
        logger.exception("could not resume unfinished runs")
        return
    if count:
        logger.info("resumed %d unfinished runs/regenerations", count)
