"""What the job tasks (imports, exports) share: retrying a transient database error."""

from __future__ import annotations

import logging
from collections.abc import Callable

from reflectlab.core.db import TRANSIENT_DB_ERRORS, db_backoff, db_reset
from reflectlab.core.jobs import job_lease_seconds

logger = logging.getLogger(__name__)

JOB_DB_RETRIES = 50  # with the backoff below: hours of outage before giving up


def run_retrying_db_errors(task, what: str, work: Callable[[], None]) -> None:
    """``work()``; on a transient database error, retry the task later.

    The job's claim lapses by itself (its heartbeat stopped with the work), so
    the retry waits at least one lease before it claims the job again.
    """
    try:
        work()
    except TRANSIENT_DB_ERRORS as exc:
        db_reset()
        countdown = job_lease_seconds() + db_backoff(task.request.retries + 1, base=2.0, cap=300.0)
        logger.warning("%s: database unavailable, retrying in %.0fs", what, countdown)
        raise task.retry(exc=exc, countdown=countdown) from None
