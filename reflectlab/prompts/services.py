"""The import job that feeds prompts and traces in (prompt rows: ``writes``)."""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import IO, Any

import orjson
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import DataError, IntegrityError, connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from reflectlab.core.db import TRANSIENT_DB_ERRORS
from reflectlab.core.jobs import JobLease, job_claim, jobs_to_resume, new_holder
from reflectlab.projects.models import Project
from reflectlab.prompts.models import ImportJob
from reflectlab.prompts.parsing import PROMPT_TARGETS, TRACE_TARGETS, Mapping, parse_file
from reflectlab.prompts.writes import prompts_upsert
from reflectlab.traces.models import Trace
from reflectlab.traces.services import traces_write

logger = logging.getLogger(__name__)

BATCH_SIZE = 1000
MAX_REPORTED_ERRORS = 1000


def _write_prompts(project: Project, records: list[dict[str, Any]]) -> tuple[int, int]:
    _, created = prompts_upsert(project=project, records=records)
    return created, len(records) - created


def writer_for(
    kind: str, import_job_id: int | None = None, *, key_order: bool = False
) -> Callable[[Project, list[dict[str, Any]]], tuple[int, int]]:
    if kind == ImportJob.Kind.TRACES:
        return lambda project, records: traces_write(
            project=project, records=records, import_job_id=import_job_id, key_order=key_order
        )
    return _write_prompts


def _stores_nul(model: type, field_name: str) -> bool:
    """Whether a column keeps NUL (PostgreSQL text/jsonb refuse it): its field must
    turn NUL into something else on the way in (an escape it reverses on the way out)."""
    return model._meta.get_field(field_name).get_prep_value("\x00") != "\x00"


def output_keeps_nul() -> bool:
    """Trace responses with NUL import losslessly when the trace columns can store it;
    otherwise a NUL is a clear line error rather than a failed write."""
    return _stores_nul(Trace, "raw_response") and _stores_nul(Trace, "reasoning")


def mapping_for(kind: str, data: dict[str, Any] | None) -> Mapping:
    targets = TRACE_TARGETS if kind == ImportJob.Kind.TRACES else PROMPT_TARGETS
    return Mapping.from_dict(data, targets=targets)


class ImportFailed(Exception):
    """The write pass stopped on an error; ``report`` says honestly what was written."""

    def __init__(self, report: dict[str, Any]):
        super().__init__("import failed")
        self.report = report


def _content_digest(record: dict[str, Any]) -> bytes:
    return hashlib.blake2b(
        orjson.dumps(record, option=orjson.OPT_SORT_KEYS), digest_size=8
    ).digest()


class _RepeatedIds:
    """Ids seen in one file: a repeated identical line is skipped, a repeated id with
    other content is an error (the second line would silently be dropped)."""

    def __init__(self) -> None:
        self.first: dict[bytes, tuple[int, bytes]] = {}

    def check(self, line: int, record: dict[str, Any]) -> tuple[bool, str | None]:
        """(whether an earlier line has this id, the error if its content differs)."""
        key = record["external_id"]
        digest = hashlib.blake2b(key.encode(), digest_size=12).digest()
        content = _content_digest(record)
        seen = self.first.setdefault(digest, (line, content))
        if seen[0] != line and seen[1] != content:
            return (
                True,
                f"id {key[:80]!r} is already used on line {seen[0]} with different content.",
            )
        return seen[0] != line, None


@dataclass
class Validation:
    """The validation pass over a whole file: its report and the lines not to write."""

    report: dict[str, Any]
    conflicts: set[int]  # an id already used with other content (rejected)
    repeats: set[int]  # an identical repeat of an earlier line (skipped)
    unreadable: bool
    size: int
    # Valid lines per chunk of ``chunk_lines`` lines (chunk k: lines k*n+1 … (k+1)*n).
    valid_per_chunk: Counter[int] = field(default_factory=Counter)

    def writable(self, allow_partial: bool) -> bool:
        # A file unreadable past some line is never written, not even in part: the
        # lines after it would silently be missing from the counts.
        return not (self.unreadable or (self.report["rows_rejected"] and not allow_partial))


def import_validate(
    *,
    stream: Any,
    kind: str,
    file_format: str,
    mapping: Mapping,
    keep_nul: bool,
    on_progress: Callable[[int], None] | None = None,
    chunk_lines: int = 0,
) -> Validation:
    """The first pass: parse and check every line, write nothing (memory stays flat
    but for the ids seen). Progress: the first half of the file size."""
    errors: list[dict[str, Any]] = []
    report: dict[str, Any] = {
        "rows_valid": 0,
        "rows_rejected": 0,
        "rows_written": 0,
        "rows_skipped": 0,
        "errors": errors,
        "written": False,
    }
    repeated = _RepeatedIds()
    result = Validation(report, conflicts=set(), repeats=set(), unreadable=False, size=0)
    lines = parse_file(
        stream, file_format=file_format, kind=kind, mapping=mapping, keep_nul=keep_nul
    )
    for count, parsed in enumerate(lines, start=1):
        result.unreadable = result.unreadable or parsed.fatal
        error = parsed.error
        if error is None:
            repeat, error = repeated.check(parsed.line, parsed.record)
            if error is not None:
                result.conflicts.add(parsed.line)
            elif repeat:
                result.repeats.add(parsed.line)
        if error is not None:
            _reject(report, parsed.line, error)
        else:
            report["rows_valid"] += 1
            if chunk_lines:
                result.valid_per_chunk[(parsed.line - 1) // chunk_lines] += 1
        if on_progress is not None and count % BATCH_SIZE == 0:
            on_progress(stream.tell() // 2)
    result.size = stream.tell()
    return result


def import_stream(
    *,
    project: Project,
    stream: IO[bytes],
    kind: str,
    file_format: str,
    mapping: dict[str, Any] | None = None,
    allow_partial: bool = False,
    on_progress: Callable[[int], None] | None = None,
    import_job_id: int | None = None,
) -> dict[str, Any]:
    """Validate every line, then write; return the report.

    Two passes over the stream: the first only validates (every value the
    database would refuse is caught there, with its line number), so memory
    stays flat however large the file is. By default the second pass writes in
    one transaction: a file with any bad line, or a write that fails anyway,
    leaves nothing behind. With ``allow_partial`` each batch commits on its own
    and a batch the database refuses is retried line by line, so the counts
    say exactly what was written. Progress is reported in bytes, the
    validation pass as the first half of the file size, the write as the second.
    (On a worker, large trace files are written in chunks instead: ``prompts.chunks``.)
    """
    clean_mapping = mapping_for(kind, mapping)
    keep_nul = kind == ImportJob.Kind.TRACES and output_keeps_nul()
    validation = import_validate(
        stream=stream,
        kind=kind,
        file_format=file_format,
        mapping=clean_mapping,
        keep_nul=keep_nul,
        on_progress=on_progress,
    )
    report, conflicts, size = validation.report, validation.conflicts, validation.size
    if not validation.writable(allow_partial):
        return report
    stream.seek(0)
    records = (
        parsed
        for parsed in parse_file(
            stream, file_format=file_format, kind=kind, mapping=clean_mapping, keep_nul=keep_nul
        )
        if parsed.record is not None and parsed.line not in conflicts
    )

    def progress() -> None:
        if on_progress is not None:
            on_progress(size // 2 + stream.tell() // 2)

    writer = BatchWriter(project, writer_for(kind, import_job_id), report, allow_partial)
    try:
        if allow_partial:
            writer.write_all(records, progress)
        else:
            with transaction.atomic():
                writer.write_all(records, progress)
    except Exception as exc:
        logger.exception("import into project %s failed while writing", project.pk)
        if not allow_partial:  # rolled back: nothing of this file is in the database
            report["rows_written"] = report["rows_skipped"] = 0
        raise ImportFailed(report) from exc
    report["written"] = True
    return report


def _reject(report: dict[str, Any], line: int, error: str) -> None:
    report["rows_rejected"] += 1
    if len(report["errors"]) < MAX_REPORTED_ERRORS:
        report["errors"].append({"line": line, "error": error})


class BatchWriter:
    """Writes parsed lines in batches of ``BATCH_SIZE``, counting into ``report``.

    ``allow_partial``: each batch commits on its own, a refused one is retried
    line by line. ``own_transactions`` (chunked imports): each batch commits on
    its own too, but a refused batch raises.
    """

    def __init__(self, project, write, report, allow_partial: bool, own_transactions=False):
        self.project, self.write, self.report = project, write, report
        self.allow_partial = allow_partial
        self.own_transactions = own_transactions

    def write_all(self, parsed_lines: Iterable[Any], progress: Callable[[], None]) -> None:
        batch: list[Any] = []
        for parsed in parsed_lines:
            batch.append(parsed)
            if len(batch) >= BATCH_SIZE:
                self.flush(batch)
                progress()
        if batch:
            self.flush(batch)
            progress()

    def flush(self, batch: list[Any]) -> None:
        records = [parsed.record for parsed in batch]
        if not self.allow_partial and self.own_transactions:
            with transaction.atomic():
                self._count(self.write(self.project, records))
        elif not self.allow_partial:
            self._count(self.write(self.project, records))
        else:
            try:
                with transaction.atomic():
                    self._count(self.write(self.project, records))
            except (DataError, IntegrityError):
                # Validation should have caught it; find the line(s) the database
                # refuses so the report stays honest, and write the rest.
                logger.exception(
                    "a batch of project %s was refused; retrying line by line", self.project.pk
                )
                self._write_one_by_one(batch)
        batch.clear()

    def _write_one_by_one(self, batch: list[Any]) -> None:
        for parsed in batch:
            try:
                with transaction.atomic():
                    self._count(self.write(self.project, [parsed.record]))
            except (DataError, IntegrityError) as exc:
                logger.warning("line %s refused by the database: %s", parsed.line, exc)
                self.report["rows_valid"] -= 1
                _reject(
                    self.report,
                    parsed.line,
                    f"The database refused this line ({type(exc).__name__}).",
                )

    def _count(self, counts: tuple[int, int]) -> None:
        self.report["rows_written"] += counts[0]
        self.report["rows_skipped"] += counts[1]


def import_job_create(
    *,
    project: Project,
    user: Any,
    upload: UploadedFile,
    kind: str,
    file_format: str,
    mapping: dict[str, Any] | None,
    allow_partial: bool = False,
) -> ImportJob:
    """Store the upload and import it: inline when small, else on a worker."""
    mapping_for(kind, mapping)  # refuse a bad mapping before storing anything
    job = ImportJob.objects.create(
        project=project,
        kind=kind,
        file=upload,
        original_name=(upload.name or "")[:255],
        file_format=file_format,
        mapping=mapping or {},
        allow_partial=allow_partial,
        bytes_total=upload.size or 0,
        created_by=user if getattr(user, "is_authenticated", False) else None,
    )
    if job.bytes_total <= settings.REFLECTLAB_SYNC_IMPORT_MAX_BYTES:
        import_job_execute(job_id=job.pk)
        job.refresh_from_db()
    else:
        from reflectlab.prompts.tasks import import_job_task

        transaction.on_commit(lambda: import_job_task.delay(job.pk))
    return job


class JobProgress:
    """Writes a job's ``bytes_done`` where other connections can see it.

    The import writes in one transaction, so progress goes through a second
    connection of its own (PostgreSQL). SQLite allows one writer at a time: there
    progress is written only outside a transaction (the validation pass).
    """

    def __init__(self, job_id: int) -> None:
        self.job_id = job_id
        self.side = None if connection.vendor == "sqlite" else connection.copy()

    def __call__(self, done: int) -> None:
        if self.side is None:
            if not connection.in_atomic_block:
                ImportJob.objects.filter(pk=self.job_id).update(bytes_done=done)
            return
        table = self.side.ops.quote_name(ImportJob._meta.db_table)
        with self.side.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} SET bytes_done = %s WHERE id = %s",  # noqa: S608 (table name from the model)
                [done, self.job_id],
            )

    def close(self) -> None:
        if self.side is not None:
            self.side.close()


def import_job_execute(*, job_id: int, raise_db_errors: bool = False) -> None:
    """Run one import job (idempotent: a finished job is left alone).

    Claimed compare-and-set (``core.jobs``): from QUEUED, or from RUNNING only
    when its worker's lease lapsed. On a worker (``raise_db_errors``) a transient
    database error goes up to the task, which retries (re-importing changes
    nothing, so trying again is safe); inline, the job fails and says so.
    """
    holder = new_holder()
    if not job_claim(model=ImportJob, pk=job_id, holder=holder):
        return
    job = ImportJob.objects.select_related("project").get(pk=job_id)
    mine = ImportJob.objects.filter(pk=job_id, holder=holder, state=ImportJob.State.RUNNING)
    progress = JobProgress(job_id)
    try:
        with JobLease(ImportJob, job_id, holder), job.file.open("rb") as stream:
            report = import_stream(
                project=job.project,
                stream=stream,
                kind=job.kind,
                file_format=job.file_format,
                mapping=job.mapping,
                allow_partial=job.allow_partial,
                on_progress=progress,
                import_job_id=job.pk,
            )
    except TRANSIENT_DB_ERRORS as exc:
        if raise_db_errors:
            raise  # the task retries
        logger.exception("import job %s failed", job_id)
        import_job_failed(job_id, exc, None)
        return
    except ImportFailed as failed:
        if raise_db_errors and isinstance(failed.__cause__, TRANSIENT_DB_ERRORS):
            raise failed.__cause__ from None
        import_job_failed(job_id, failed.__cause__, failed.report)
        return
    except Exception as exc:
        logger.exception("import job %s failed", job_id)
        import_job_failed(job_id, exc, None)
        return
    finally:
        progress.close()
    failed = report["rows_rejected"] and not job.allow_partial
    import_job_end(
        mine,
        state=ImportJob.State.FAILED if failed else ImportJob.State.SUCCEEDED,
        rows_written=report["rows_written"],
        rows_skipped=report["rows_skipped"],
        rows_rejected=report["rows_rejected"],
        errors=report["errors"],
        bytes_done=job.bytes_total,
    )


def import_job_failed(
    job_id: int, exc: BaseException | None, report: dict[str, Any] | None
) -> None:
    """A generic, honest message for the user; the details went to the log."""
    report = report or {"rows_written": 0, "rows_skipped": 0, "rows_rejected": 0, "errors": []}
    if report["rows_written"]:
        outcome = f"{report['rows_written']} rows were written before it stopped"
    else:
        outcome = "nothing was written"
    kind = type(exc).__name__ if exc is not None else "error"
    message = f"Import failed ({kind}); {outcome}. The server log has the details."
    import_job_end(
        ImportJob.objects.filter(pk=job_id),
        state=ImportJob.State.FAILED,
        rows_written=report["rows_written"],
        rows_skipped=report["rows_skipped"],
        rows_rejected=report["rows_rejected"],
        errors=[*report["errors"], {"line": None, "error": message}],
    )


def import_job_end(rows: QuerySet[ImportJob], **values: Any) -> int:
    """End the import job in ``rows``: ``values`` (state, counters, errors), finished now, lease given up."""
    return rows.update(finished_at=timezone.now(), holder="", lease_until=None, **values)


def import_jobs_recover() -> list[int]:
    """Jobs to enqueue when a worker starts: queued ones and those whose worker died."""
    return jobs_to_resume(ImportJob)
