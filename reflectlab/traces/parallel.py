"""Re-analysis split into chunks over id ranges, one task per chunk, across workers.

Analysis is pure Python and holds one core (README "Benchmarks"); a project of
a million traces re-analyses N times faster on N worker processes. The plan
cuts the traces that need it into contiguous id ranges of ``chunk`` rows;
each chunk task re-analyses the traces of its range that are still stale, so
a chunk that runs twice (``acks_late`` redelivery) finds nothing left to do
and the progress — the count of traces still stale — only goes down and adds
up to the total.
"""

from __future__ import annotations

from django.db.models import QuerySet

from reflectlab.core.chunks import ChunkStarts
from reflectlab.projects.models import Project
from reflectlab.traces.models import Trace
from reflectlab.traces.services import BATCH_SIZE, current_version, save_analyses

DEFAULT_CHUNK = 2000


def _stale(project: Project) -> QuerySet[Trace]:
    return Trace.objects.filter(project=project, state=Trace.State.READY).exclude(
        analyzer_version=current_version(project)
    )


def reanalysis_stale_count(*, project: Project) -> int:
    return _stale(project).count()


def reanalysis_plan(*, project: Project, chunk: int = DEFAULT_CHUNK) -> list[tuple[int, int]]:
    """Half-open id ranges ``[lo, hi)`` of about ``chunk`` stale traces each.

    One ordered pass over the ids (an index scan of ``(project, id)``); the
    boundaries are every ``chunk``-th id, so chunks are equal in rows whatever
    gaps the ids have.
    """
    starts: ChunkStarts[int] = ChunkStarts(chunk)
    last = 0
    for last in _stale(project).order_by("id").values_list("id", flat=True).iterator(10_000):
        starts.see(last)
    return starts.ranges(end=last + 1)


def traces_reanalyze_range(*, project_id: int, lo: int, hi: int) -> int:
    """Re-analyse the still-stale traces with ``lo <= id < hi``; returns how many."""
    project = Project.objects.get(pk=project_id)
    queryset = _stale(project).filter(id__gte=lo, id__lt=hi).select_related("prompt", "project")
    done = 0
    batch: list[Trace] = []
    for trace in queryset.order_by("id").iterator(chunk_size=BATCH_SIZE):
        batch.append(trace)
        if len(batch) >= BATCH_SIZE:
            done += save_analyses(batch)
    return done + save_analyses(batch)


def reanalysis_start(*, project: Project, chunk: int = DEFAULT_CHUNK) -> int:
    """Queue one chunk task per range (a Celery group) after commit; returns the chunk count."""
    from reflectlab.traces.tasks import reanalysis_chunks_enqueue

    ranges = reanalysis_plan(project=project, chunk=chunk)
    if ranges:
        reanalysis_chunks_enqueue(project.pk, ranges)
    return len(ranges)
