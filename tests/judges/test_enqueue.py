from __future__ import annotations

import pytest
from celery import current_app

from reflectlab.judges import services

pytestmark = pytest.mark.django_db


def test_run_is_enqueued_on_the_models_queue_after_commit(
    user, make_judge, make_trace, django_capture_on_commit_callbacks, monkeypatch
):

    sent = []
    monkeypatch.setattr(current_app, "send_task", lambda name, **kw: sent.append((name, kw)))
    make_trace("a")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        run = services.judge_run_create(judge=make_judge(), user=user)
    assert sent == []  # nothing before commit
    for callback in callbacks:
        callback()
    assert sent == [("judges.judge_run_execute", {"args": [run.pk], "queue": "models"})]
