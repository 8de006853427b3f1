"""Sending judge-run tasks by name, after commit.

The task module imports the services (tasks are thin); the services enqueue
by the task's registered name, so neither imports the other's module in a
circle. The queue is named explicitly: judge runs call models.
"""

from __future__ import annotations

from functools import partial

from celery import current_app
from django.db import transaction

EXECUTE_TASK = "judges.judge_run_execute"
QUEUE = "models"


def judge_run_enqueue(run_id: int, *, on_commit: bool = True) -> None:
    send = partial(current_app.send_task, EXECUTE_TASK, args=[run_id], queue=QUEUE)
    if on_commit:
        transaction.on_commit(send)
    else:
        send()
