"""Large trace imports written in chunks by several workers (issue 16).

Analysis and grading hold one core per trace, so a large JSONL file of traces
is written by every worker at once:

1. **Validate and plan, on one worker.** The job's worker reads the whole file
   once, as a single-worker import does (``services.import_validate``): every
   bad line is found with its line number before anything is written. While
   reading it notes where every ``REFLECTLAB_IMPORT_CHUNK_ROWS``-th line starts
   (a byte offset), which repeated lines are not to be written, and stores one
   ``ImportChunk`` row per range of lines. A file with a bad line (and no
   "allow partial") fails here and writes nothing, as before.
2. **Write, on every worker.** One task per chunk (``core.chunks``) claims its
   row with a lease (``core.jobs``), seeks to its byte range, and parses,
   analyses and writes its lines in batches, each batch committing on its own.
   Line numbers stay the file's. Progress is the sum over chunks.
3. **Settle, once.** The chunk that finishes last sums the counts (rows
   written: the traces tagged with the job), merges the reports, and ends the
   job compare-and-set.

All or nothing: a chunk that fails marks the job's other chunks to stop at
their next batch; once every chunk has stopped, every trace the job wrote and
every prompt it created that no trace uses are deleted in the settling
transaction, and the job fails saying which lines could not be written. While
the chunks run, their committed batches are visible (the job says "running");
after the job ends the file is either all in or all out. With "allow partial",
a failed chunk keeps what was written and the counts say exactly what.

Idempotent: within one file every id is written by the chunk holding its first
line (repeats are skipped, other-content repeats are refused), so concurrent
chunks never race on a trace; prompts shared between chunks are inserted in
id order, so concurrent chunks wait on each other without deadlocking. A chunk
run twice (a redelivered message, a worker that died) skips the traces already
written, and the job's count comes from the database, not from the chunks.

On SQLite (one writer at a time) the job's worker writes the chunks itself,
one after another, with the same guarantees. CSV files import on one worker
(a quoted cell may span lines, so byte ranges cannot be cut safely).
"""

from __future__ import annotations

import bisect
import logging
from collections.abc import Callable, Iterator
from typing import IO, Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Sum
from django.utils import timezone

from reflectlab.core.chunks import ChunkStarts, chunks_enqueue
from reflectlab.core.db import TRANSIENT_DB_ERRORS
from reflectlab.core.jobs import JobLease, job_claim, job_lease_seconds, new_holder
from reflectlab.prompts.models import ImportChunk, ImportJob, Prompt
from reflectlab.prompts.parsing import parse_file
from reflectlab.prompts.services import (
    MAX_REPORTED_ERRORS,
    BatchWriter,
    JobProgress,
    import_job_end,
    import_job_execute,
    import_job_failed,
    import_validate,
    mapping_for,
    output_keeps_nul,
    writer_for,
)
from reflectlab.traces.models import Trace

logger = logging.getLogger(__name__)

DEFAULT_CHUNK_ROWS = 2000


def chunk_rows() -> int:
    return int(getattr(settings, "REFLECTLAB_IMPORT_CHUNK_ROWS", DEFAULT_CHUNK_ROWS))


def is_chunked(job: ImportJob) -> bool:
    return job.kind == ImportJob.Kind.TRACES and job.file_format == "jsonl" and chunk_rows() > 0


class _LineStarts:
    """The raw lines of a byte stream, noting where every ``every``-th line starts."""

    def __init__(self, stream: IO[bytes], every: int) -> None:
        self.stream, self.starts = stream, ChunkStarts[tuple[int, int]](every)
        self.line = self.offset = 0

    def __iter__(self) -> Iterator[bytes]:
        for raw in iter(self.stream.readline, b""):
            self.line += 1
            self.starts.see((self.line, self.offset))
            self.offset += len(raw)
            yield raw

    def tell(self) -> int:
        return self.offset

    def ranges(self) -> list[tuple[tuple[int, int], tuple[int, int]]]:
        """``((first line, first byte), (line after, byte after))`` per chunk."""
        return self.starts.ranges(end=(self.line + 1, self.offset))


class _RangeLines:
    """The lines of ``stream`` from where it is to ``limit`` bytes further (a line start)."""

    def __init__(self, stream: IO[bytes], limit: int) -> None:
        self.stream, self.limit, self.done = stream, limit, 0

    def __iter__(self) -> Iterator[bytes]:
        while self.done < self.limit and (raw := self.stream.readline()):
            self.done += len(raw)
            yield raw

    def tell(self) -> int:
        return self.done


class _Stopped(Exception):
    """Another chunk failed, or this chunk is no longer ours: stop writing."""


def import_job_run(*, job_id: int, watch: bool = False) -> None:
    """The worker's entry point for an import job: chunked when it can be, else whole.

    Idempotent: a finished job is left alone; a job whose chunks exist (its
    worker died after planning, a worker started) has its unfinished chunks
    queued again. While the chunks run, the job watches them (``watch``): once
    a lease, it queues again the chunks whose worker died (their lease lapsed;
    a redelivered message of theirs may have found the lease still held), and
    settles the job if they have all stopped.
    """
    job = ImportJob.objects.filter(pk=job_id).only("kind", "file_format").first()
    if job is None:
        return
    if not is_chunked(job):
        import_job_execute(job_id=job_id, raise_db_errors=True)
        return
    holder = new_holder()
    if not job_claim(model=ImportJob, pk=job_id, holder=holder):
        return
    if not ImportChunk.objects.filter(job_id=job_id).exists():
        try:
            planned = _plan(job_id, holder)
        except TRANSIENT_DB_ERRORS:
            raise  # the task retries
        except Exception as exc:
            logger.exception("import job %s failed while validating", job_id)
            import_job_failed(job_id, exc, None)
            return
        if not planned:
            return
        watch = False  # every chunk is queued
    _write_chunks(job_id, only_lapsed=watch)  # and settles, once they have all stopped
    running = ImportJob.objects.filter(pk=job_id, state=ImportJob.State.RUNNING)
    if connection.vendor != "sqlite" and running.exists():
        _watch_later(job_id)


def _watch_later(job_id: int) -> None:
    from reflectlab.prompts.tasks import import_job_task

    countdown = job_lease_seconds() + 1  # our claim of the job has lapsed by then
    transaction.on_commit(
        lambda: import_job_task.apply_async((job_id,), {"watch": True}, countdown=countdown)
    )


def _plan(job_id: int, holder: str) -> bool:
    """Validate the whole file and store its chunks; False: the job ended here."""
    job = ImportJob.objects.select_related("project").get(pk=job_id)
    mine = ImportJob.objects.filter(pk=job_id, holder=holder, state=ImportJob.State.RUNNING)
    progress = JobProgress(job_id)
    every = chunk_rows()
    try:
        with JobLease(ImportJob, job_id, holder), job.file.open("rb") as stream:
            lines = _LineStarts(stream, every)
            validation = import_validate(
                stream=lines,
                kind=job.kind,
                file_format=job.file_format,
                mapping=mapping_for(job.kind, job.mapping),
                keep_nul=output_keeps_nul(),
                on_progress=progress,
                chunk_lines=every,
            )
    finally:
        progress.close()
    report = validation.report
    if not validation.writable(job.allow_partial):
        import_job_end(
            mine,
            state=ImportJob.State.FAILED,
            rows_rejected=report["rows_rejected"],
            errors=report["errors"],
            bytes_done=job.bytes_total,
        )
        return False
    skip = sorted(validation.conflicts | validation.repeats)
    chunks = []
    for (line_lo, byte_lo), (line_hi, byte_hi) in lines.ranges():
        if rows := validation.valid_per_chunk[(line_lo - 1) // every]:
            chunks.append(
                ImportChunk(
                    job=job,
                    index=len(chunks),
                    line_lo=line_lo,
                    line_hi=line_hi,
                    byte_lo=byte_lo,
                    byte_hi=byte_hi,
                    rows_valid=rows,
                    skip_lines=skip[
                        bisect.bisect_left(skip, line_lo) : bisect.bisect_left(skip, line_hi)
                    ],
                )
            )
    with transaction.atomic():
        if not mine.update(
            rows_rejected=report["rows_rejected"],
            errors=report["errors"],
            bytes_done=job.bytes_total // 2,
        ):
            return False  # lost our lease while validating: the new holder plans
        ImportChunk.objects.bulk_create(chunks)
    logger.info(
        "import job %s: %d lines valid, %d chunks", job_id, report["rows_valid"], len(chunks)
    )
    return True


def _write_chunks(job_id: int, *, only_lapsed: bool = False) -> None:
    """Queue the unfinished chunks (their claims keep a chunk to one worker), then settle.

    ``only_lapsed``: only those whose worker died; the queued ones have their
    message in the queue already.
    """
    pending = ImportChunk.objects.filter(job_id=job_id).exclude(state__in=ImportChunk.TERMINAL)
    if only_lapsed:
        pending = pending.filter(state=ImportChunk.State.RUNNING, lease_until__lt=timezone.now())
    pending = list(pending.values_list("pk", flat=True))
    if connection.vendor == "sqlite":  # one writer at a time: write them here, in turn
        for chunk_id in pending:
            import_chunk_execute(chunk_id=chunk_id, raise_db_errors=True)
    elif pending:
        from reflectlab.prompts.tasks import import_chunk_task

        chunks_enqueue(import_chunk_task, [(chunk_id,) for chunk_id in pending])
    import_job_settle(job_id=job_id)


def import_chunk_execute(*, chunk_id: int, raise_db_errors: bool = False) -> None:
    """Write one chunk (idempotent: a finished chunk is left alone), then try to settle."""
    holder = new_holder()
    if not job_claim(model=ImportChunk, pk=chunk_id, holder=holder):
        return
    chunk = ImportChunk.objects.select_related("job__project").get(pk=chunk_id)
    mine = ImportChunk.objects.filter(pk=chunk_id, holder=holder, state=ImportChunk.State.RUNNING)
    report: dict[str, Any] = {
        "rows_valid": chunk.rows_valid,
        "rows_rejected": 0,
        "rows_written": 0,
        "rows_skipped": 0,
        "errors": [],
    }
    done = {"holder": "", "lease_until": None, "bytes_done": chunk.byte_hi - chunk.byte_lo}
    try:
        with JobLease(ImportChunk, chunk_id, holder) as lease:
            _write_range(chunk, report, holder, lost=lease.lost.is_set)
    except TRANSIENT_DB_ERRORS as exc:
        if raise_db_errors:
            raise  # the task retries once the lease lapsed
        _chunk_failed(mine, chunk, exc, done)
    except _Stopped:
        mine.update(state=ImportChunk.State.STOPPED, **done)
    except Exception as exc:
        _chunk_failed(mine, chunk, exc, done)
    else:
        mine.update(
            state=ImportChunk.State.DONE,
            rows_rejected=report["rows_rejected"],
            errors=report["errors"][:MAX_REPORTED_ERRORS],
            **done,
        )
    import_job_settle(job_id=chunk.job_id)


def _chunk_failed(mine, chunk: ImportChunk, exc: BaseException, done: dict[str, Any]) -> None:
    logger.exception("chunk %s (lines %s-%s) of import %s failed", chunk.index, chunk.line_lo,
                     chunk.line_hi - 1, chunk.job_id)  # fmt: skip
    if mine.update(state=ImportChunk.State.FAILED, failure=type(exc).__name__, **done):
        # Chunks not started yet never will be; running ones stop at their next batch.
        ImportChunk.objects.filter(job_id=chunk.job_id, state=ImportChunk.State.QUEUED).update(
            state=ImportChunk.State.STOPPED
        )


def _write_range(
    chunk: ImportChunk, report: dict[str, Any], holder: str, lost: Callable[[], bool]
) -> None:
    job = chunk.job
    skip = set(chunk.skip_lines)
    others_failed = ImportChunk.objects.filter(job_id=job.pk, state=ImportChunk.State.FAILED)

    def check() -> None:
        if lost() or others_failed.exists():
            raise _Stopped

    with job.file.open("rb") as stream:
        stream.seek(chunk.byte_lo)
        lines = _RangeLines(stream, chunk.byte_hi - chunk.byte_lo)
        parsed_lines = parse_file(
            lines,
            file_format=job.file_format,
            kind=job.kind,
            mapping=mapping_for(job.kind, job.mapping),
            keep_nul=output_keeps_nul(),
            first_line=chunk.line_lo,
        )
        records = (p for p in parsed_lines if p.record is not None and p.line not in skip)
        writer = BatchWriter(
            job.project,
            writer_for(job.kind, job.pk, key_order=True),
            report,
            job.allow_partial,
            own_transactions=True,
        )

        def progress() -> None:
            ImportChunk.objects.filter(pk=chunk.pk, holder=holder).update(bytes_done=lines.tell())
            _job_progress(job)
            check()

        check()
        writer.write_all(records, progress)


def _job_progress(job: ImportJob) -> None:
    """The job's bytes done: the validation (the first half), then the chunks' sum."""
    written = ImportChunk.objects.filter(job_id=job.pk).aggregate(s=Sum("bytes_done"))["s"] or 0
    ImportJob.objects.filter(pk=job.pk, state=ImportJob.State.RUNNING).update(
        bytes_done=job.bytes_total // 2 + written // 2
    )


def import_job_settle(*, job_id: int) -> bool:
    """End a chunked job once all its chunks have stopped; False: not yet (or not ours).

    Runs in one transaction with the job row locked, so the job ends once: on
    success with the counts summed, on a chunk failure with every trace the job
    wrote deleted (unless partial imports are allowed).
    """
    chunks = ImportChunk.objects.filter(job_id=job_id)
    if chunks.exclude(state__in=ImportChunk.TERMINAL).exists():
        return False
    with transaction.atomic():
        job = (
            ImportJob.objects.select_for_update()
            .filter(pk=job_id, state=ImportJob.State.RUNNING)
            .first()
        )
        if job is None:
            return False
        chunks = list(chunks.order_by("index"))
        failed = [c for c in chunks if c.state == ImportChunk.State.FAILED]
        if failed and not job.allow_partial:
            import_job_undo(job=job)
        written = Trace.objects.filter(import_job=job).count()
        refused = sum(c.rows_rejected for c in chunks)
        valid = sum(c.rows_valid for c in chunks) - refused
        errors = sorted(
            [*job.errors, *(e for c in chunks for e in c.errors)], key=lambda e: e["line"] or 0
        )[:MAX_REPORTED_ERRORS]
        if failed:
            errors.append({"line": None, "error": _failure_message(failed[0], written)})
        import_job_end(
            ImportJob.objects.filter(pk=job_id),
            state=ImportJob.State.FAILED if failed else ImportJob.State.SUCCEEDED,
            rows_written=written,
            rows_skipped=0 if failed else max(valid - written, 0),
            rows_rejected=job.rows_rejected + refused,
            errors=errors,
            bytes_done=job.bytes_total,
        )
    return True


def _failure_message(chunk: ImportChunk, written: int) -> str:
    outcome = f"{written} rows were written before it stopped" if written else "nothing was written"
    return (
        f"Import failed ({chunk.failure or 'error'}) while writing lines "
        f"{chunk.line_lo}-{chunk.line_hi - 1}; {outcome}. The server log has the details."
    )


def import_job_undo(*, job: ImportJob) -> None:
    """Delete what a job wrote: its traces, then the prompts it created that no trace uses."""
    Trace.objects.filter(import_job=job).delete()
    Prompt.objects.filter(import_job=job, traces__isnull=True).delete()
