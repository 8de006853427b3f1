"""Export tasks: idempotent (the service claims compare-and-set) and resumed at worker start."""

import logging

from celery import shared_task
from celery.signals import worker_ready

from reflectlab.core.tasks import JOB_DB_RETRIES, run_retrying_db_errors
from reflectlab.exports.recovery import exports_recover
from reflectlab.exports.services import export_execute

logger = logging.getLogger(__name__)

EXPORT_SOFT_LIMIT = 6 * 3600


@shared_task(
    bind=True,
    acks_late=True,
    soft_time_limit=EXPORT_SOFT_LIMIT,
    time_limit=EXPORT_SOFT_LIMIT + 300,
    max_retries=JOB_DB_RETRIES,
)
def export_task(self, export_id: int) -> None:
    run_retrying_db_errors(self, f"export {export_id}", lambda: export_execute(export_id=export_id))


@worker_ready.connect
def _resume_exports(sender=None, **kwargs) -> None:
    try:
        ids = exports_recover()
    except Exception:  # e.g. a database not migrated yet: never stop the worker
        logger.exception("could not resume exports")
        return
    for export_id in ids:
        export_task.delay(export_id)
    if ids:
        logger.info("resumed %d exports", len(ids))
