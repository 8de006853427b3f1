"""The import job that feeds prompts and traces in (prompt rows: ``writes``)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import IO, Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from reflectlab.projects.models import Project
from reflectlab.prompts.models import ImportJob
from reflectlab.prompts.parsing import PROMPT_TARGETS, TRACE_TARGETS, Mapping, parse_file
from reflectlab.prompts.writes import prompts_upsert
from reflectlab.traces.services import traces_write

logger = logging.getLogger(__name__)

BATCH_SIZE = 1000
MAX_REPORTED_ERRORS = 1000


def _write_prompts(project: Project, records: list[dict[str, Any]]) -> tuple[int, int]:
    _, created = prompts_upsert(project=project, records=records)
    return created, len(records) - created


def _writer_for(kind: str) -> Callable[[Project, list[dict[str, Any]]], tuple[int, int]]:
    if kind == ImportJob.Kind.TRACES:
        return lambda project, records: traces_write(project=project, records=records)
    return _write_prompts


def mapping_for(kind: str, data: dict[str, Any] | None) -> Mapping:
    targets = TRACE_TARGETS if kind == ImportJob.Kind.TRACES else PROMPT_TARGETS
    return Mapping.from_dict(data, targets=targets)


def import_stream(
    *,
    project: Project,
    stream: IO[bytes],
    kind: str,
    file_format: str,
    mapping: dict[str, Any] | None = None,
    allow_partial: bool = False,
    on_progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Validate every line, then write in batches; return the report.

    Two passes over the stream: the first only validates, so a file with any bad
    line writes nothing (unless ``allow_partial``) and memory stays flat however
    large the file is. Writes are idempotent per external id, so an import that
    dies half-way can simply run again.
    """
    clean_mapping = mapping_for(kind, mapping)
    errors: list[dict[str, Any]] = []
    rejected = valid = 0
    for parsed in parse_file(stream, file_format=file_format, kind=kind, mapping=clean_mapping):
        if parsed.error is not None:
            rejected += 1
            if len(errors) < MAX_REPORTED_ERRORS:
                errors.append({"line": parsed.line, "error": parsed.error})
        else:
            valid += 1
    report: dict[str, Any] = {
        "rows_valid": valid,
        "rows_rejected": rejected,
        "rows_written": 0,
        "rows_skipped": 0,
        "errors": errors,
        "written": False,
    }
    if rejected and not allow_partial:
        return report
    stream.seek(0)
    write = _writer_for(kind)
    batch: list[dict[str, Any]] = []
    for parsed in parse_file(stream, file_format=file_format, kind=kind, mapping=clean_mapping):
        if parsed.record is None:
            continue
        batch.append(parsed.record)
        if len(batch) >= BATCH_SIZE:
            _flush(project, batch, write, report, on_progress, stream)
    if batch:
        _flush(project, batch, write, report, on_progress, stream)
    report["written"] = True
    return report


def _flush(project, batch, write, report, on_progress, stream) -> None:
    with transaction.atomic():
        written, skipped = write(project, batch)
    report["rows_written"] += written
    report["rows_skipped"] += skipped
    batch.clear()
    if on_progress is not None:
        on_progress(stream.tell())


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


def import_job_execute(*, job_id: int) -> None:
    """Run one import job (idempotent: a finished job is left alone)."""
    claimed = ImportJob.objects.filter(
        pk=job_id, state__in=[ImportJob.State.QUEUED, ImportJob.State.RUNNING]
    ).update(state=ImportJob.State.RUNNING)
    if not claimed:
        return
    job = ImportJob.objects.select_related("project").get(pk=job_id)

    def progress(done: int) -> None:
        ImportJob.objects.filter(pk=job_id).update(bytes_done=done)

    try:
        with job.file.open("rb") as stream:
            report = import_stream(
                project=job.project,
                stream=stream,
                kind=job.kind,
                file_format=job.file_format,
                mapping=job.mapping,
                allow_partial=job.allow_partial,
                on_progress=progress,
            )
    except Exception as exc:
        logger.exception("import job %s failed", job_id)
        ImportJob.objects.filter(pk=job_id).update(
            state=ImportJob.State.FAILED,
            errors=[{"line": None, "error": f"Import failed: {exc}"}],
            finished_at=timezone.now(),
        )
        return
    failed = report["rows_rejected"] and not job.allow_partial
    ImportJob.objects.filter(pk=job_id).update(
        state=ImportJob.State.FAILED if failed else ImportJob.State.SUCCEEDED,
        rows_written=report["rows_written"],
        rows_skipped=report["rows_skipped"],
        rows_rejected=report["rows_rejected"],
        errors=report["errors"],
        bytes_done=job.bytes_total,
        finished_at=timezone.now(),
    )
