"""Work split into chunks across workers: where the chunks start, and queueing them.

Shared by the parallel re-analysis (``traces.parallel``: chunks of trace ids)
and chunked trace imports (``prompts.chunks``: chunks of lines of the upload).
Chunks are equal in items whatever gaps the keys have; each chunk is one
idempotent task, queued after commit as one Celery group.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from typing import Any

from celery import group
from django.db import transaction


class ChunkStarts[K]:
    """Fed the keys of an ordered stream one by one, keeps every ``every``-th one."""

    def __init__(self, every: int) -> None:
        if every < 1:
            raise ValueError("chunk must be at least 1")
        self.every = every
        self.starts: list[K] = []
        self.seen = 0

    def see(self, key: K) -> None:
        if self.seen % self.every == 0:
            self.starts.append(key)
        self.seen += 1

    def ranges(self, end: K) -> list[tuple[K, K]]:
        """Half-open ``[start, next start)`` ranges, the last one closed by ``end``."""
        return list(itertools.pairwise([*self.starts, end])) if self.starts else []


def chunks_enqueue(task: Any, arguments: Iterable[tuple[Any, ...]]) -> None:
    """Queue ``task`` once per argument tuple (a Celery group), after commit."""
    chunks = group([task.s(*args) for args in arguments])
    transaction.on_commit(chunks.delay)
