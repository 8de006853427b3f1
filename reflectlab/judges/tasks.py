"""Thin, idempotent tasks. Judge runs call models, so they go to the ``models``
queue like runs; ``acks_late`` and the compare-and-set item claims make a
redelivered or duplicated task harmless (see ``reflectlab.runs.tasks``).
"""

from __future__ import annotations

import logging

from celery import shared_task
from celery.signals import worker_ready

from reflectlab.judges import services
from reflectlab.judges.enqueue import EXECUTE_TASK, QUEUE

logger = logging.getLogger(__name__)

RUN_SOFT_LIMIT = 24 * 3600


@shared_task(
    name=EXECUTE_TASK,
    queue=QUEUE,
    acks_late=True,
    soft_time_limit=RUN_SOFT_LIMIT,
    time_limit=RUN_SOFT_LIMIT + 300,
)
def judge_run_execute_task(run_id: int) -> None:
    services.judge_run_execute(run_id=run_id)


@worker_ready.connect
def _resume_unfinished_judge_runs(sender=None, **kwargs) -> None:
    try:
        count = services.judge_runs_resume()
    except Exception:  # e.g. a database not migrated yet: never stop the worker
        logger.exception("could not resume unfinished judge runs")
        return
    if count:
        logger.info("resumed %d unfinished judge runs", count)
