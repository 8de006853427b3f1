"""Periodic housekeeping for the queues. Both are idempotent and take ids.

Neither is needed for correctness: lapsed leases are expired at claim time and
new traces join at claim time (on PostgreSQL within ``QUEUE_SYNC_SECONDS``, or
at once when the queue would otherwise look empty). Schedule them (celery beat)
to keep the queue page's counts fresh (the page itself only reads) and re-rank traces whose analysis changed.
"""

from __future__ import annotations

from celery import shared_task

from reflectlab.projects.models import Project
from reflectlab.review.claims import claims_expire
from reflectlab.review.queue import queue_sync


@shared_task(acks_late=True, soft_time_limit=300, time_limit=360)
def queue_refresh(project_id: int) -> int:
    project = Project.objects.filter(pk=project_id).first()
    if project is None:
        return 0
    claims_expire(project=project)
    return queue_sync(project=project, full=True)


@shared_task(acks_late=True, soft_time_limit=120, time_limit=150)
def claims_expire_all() -> int:
    return claims_expire()
