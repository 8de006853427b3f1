"""Thin, idempotent chunk tasks of a parallel re-analysis (``traces.parallel``)."""

from __future__ import annotations

from celery import shared_task

from reflectlab.core.chunks import chunks_enqueue
from reflectlab.traces.parallel import traces_reanalyze_range


@shared_task(acks_late=True, soft_time_limit=3600, time_limit=3900)
def reanalyze_chunk_task(project_id: int, lo: int, hi: int) -> int:
    """Safe to run twice: a second run finds the range current and writes nothing."""
    return traces_reanalyze_range(project_id=project_id, lo=lo, hi=hi)


def reanalysis_chunks_enqueue(project_id: int, ranges: list[tuple[int, int]]) -> None:
    chunks_enqueue(reanalyze_chunk_task, ((project_id, lo, hi) for lo, hi in ranges))
