"""Tunables of run execution: Django settings win, then environment variables.

They are read when used (not at import), so tests and benchmarks can set them.
"""

from __future__ import annotations

import os

from django.conf import settings

DEFAULTS: dict[str, float] = {
    # Worker threads per task are min(config.max_concurrency, this).
    "REFLECTLAB_RUN_MAX_THREADS": 64,
    # Tasks enqueued per run; >1 spreads one run over several worker processes.
    "REFLECTLAB_RUN_TASKS": 1,
    # Claims (endpoint slots, run items) expire this long after the last heartbeat.
    "REFLECTLAB_RUN_LEASE_SECONDS": 60,
    # Exponential backoff: base · 2^(attempt-1), capped, with jitter.
    "REFLECTLAB_RUN_BACKOFF_BASE": 1.0,
    "REFLECTLAB_RUN_BACKOFF_CAP": 60.0,
    # "Test connection" never waits longer than this in the web process.
    "REFLECTLAB_TEST_CONNECTION_TIMEOUT": 3.0,
}


def get(name: str) -> float:
    value = getattr(settings, name, None)
    if value is None:
        value = os.environ.get(name)
    return float(value) if value is not None else DEFAULTS[name]
