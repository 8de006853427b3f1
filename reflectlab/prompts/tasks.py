from celery import shared_task

from reflectlab.prompts.services import import_job_execute


@shared_task(acks_late=True, soft_time_limit=6 * 3600, time_limit=6 * 3600 + 300)
def import_job_task(job_id: int) -> None:
    import_job_execute(job_id=job_id)
