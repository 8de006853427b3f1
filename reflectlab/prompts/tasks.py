"""Import tasks: idempotent (the service claims compare-and-set) and resumed at worker start."""

import logging

from celery import shared_task
from celery.signals import worker_ready

from reflectlab.core.tasks import JOB_DB_RETRIES, run_retrying_db_errors
from reflectlab.prompts.chunks import import_chunk_execute, import_job_run
from reflectlab.prompts.services import import_jobs_recover

logger = logging.getLogger(__name__)

IMPORT_SOFT_LIMIT = 6 * 3600


@shared_task(
    bind=True,
    acks_late=True,
    soft_time_limit=IMPORT_SOFT_LIMIT,
    time_limit=IMPORT_SOFT_LIMIT + 300,
    max_retries=JOB_DB_RETRIES,
)
def import_job_task(self, job_id: int, watch: bool = False) -> None:
    """Validate, then write whole or in chunks (``prompts.chunks``); ``watch``: look after them."""
    run_retrying_db_errors(
        self, f"import {job_id}", lambda: import_job_run(job_id=job_id, watch=watch)
    )


@shared_task(
    bind=True,
    acks_late=True,
    soft_time_limit=IMPORT_SOFT_LIMIT,
    time_limit=IMPORT_SOFT_LIMIT + 300,
    max_retries=JOB_DB_RETRIES,
)
def import_chunk_task(self, chunk_id: int) -> None:
    """One chunk of a large trace import; safe to run twice (its claim and the ids)."""
    run_retrying_db_errors(
        self,
        f"import chunk {chunk_id}",
        lambda: import_chunk_execute(chunk_id=chunk_id, raise_db_errors=True),
    )


@worker_ready.connect
def _resume_imports(sender=None, **kwargs) -> None:
    try:
        ids = import_jobs_recover()
    except Exception:  # e.g. a database not migrated yet: never stop the worker
        logger.exception("could not resume imports")
        return
    for job_id in ids:
        import_job_task.delay(job_id)
    if ids:
        logger.info("resumed %d imports", len(ids))
