"""Surviving a transient database error in long-running work (runs, imports, exports).

When PostgreSQL restarts, fails over or terminates a backend
(``pg_terminate_backend``), every query on that connection raises
``OperationalError``/``InterfaceError`` — and Django never reconnects a
broken connection by itself outside the request cycle, so a worker thread
would fail for ever. ``db_retry`` closes the broken connection (the next query
opens a new one) and tries again with exponential backoff and jitter, for up
to ``REFLECTLAB_DB_RETRY_SECONDS``; only then does the error reach the caller
(a task, which retries itself later). Inside a transaction nothing can be
retried piecemeal, so the error goes straight up to whoever opened it.
"""

from __future__ import annotations

import logging
import os
import random
import time
from collections.abc import Callable

from django.conf import settings
from django.db import InterfaceError, OperationalError, connections

logger = logging.getLogger(__name__)

TRANSIENT_DB_ERRORS = (OperationalError, InterfaceError)


def db_retry_seconds() -> float:
    value = getattr(settings, "REFLECTLAB_DB_RETRY_SECONDS", None)
    if value is None:
        value = os.environ.get("REFLECTLAB_DB_RETRY_SECONDS", 120)
    return float(value)


def db_backoff(attempt: int, *, base: float = 0.25, cap: float = 10.0) -> float:
    """Exponential backoff with "equal jitter" (AWS architecture blog)."""
    ceiling = min(cap, base * 2 ** max(0, attempt - 1))
    return ceiling / 2 + random.uniform(0, ceiling / 2)  # noqa: S311 (jitter, not crypto)


def db_reset() -> None:
    """Close this thread's connections that are not inside a transaction; the
    next query opens a fresh one. Harmless on a healthy connection."""
    for conn in connections.all(initialized_only=True):
        if not conn.in_atomic_block:
            conn.close()


def in_transaction() -> bool:
    return any(c.in_atomic_block for c in connections.all(initialized_only=True))


def db_retry[T](
    fn: Callable[[], T],
    *,
    what: str,
    budget: float | None = None,
) -> T:
    """``fn()``, tried again after a transient database error (see the module doc).

    ``fn`` must be safe to repeat: a read, or a write in its own transaction
    (``transaction.atomic`` inside ``fn``) that is compare-and-set.
    """
    deadline = time.monotonic() + (db_retry_seconds() if budget is None else budget)
    attempt = 0
    while True:
        try:
            return fn()
        except TRANSIENT_DB_ERRORS as exc:
            attempt += 1
            if in_transaction() or time.monotonic() >= deadline:
                raise
            delay = db_backoff(attempt)
            logger.warning(
                "database error while %s (attempt %d), retrying in %.2fs: %s",
                what,
                attempt,
                delay,
                str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__,
            )
            db_reset()
            time.sleep(delay)
