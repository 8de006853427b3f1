from celery import shared_task

from reflectlab.exports.services import export_execute


@shared_task(acks_late=True, soft_time_limit=6 * 3600, time_limit=6 * 3600 + 300)
def export_task(export_id: int) -> None:
    """Idempotent: the service claims the export with a compare-and-set first."""
    export_execute(export_id=export_id)
