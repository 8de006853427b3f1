"""Regenerating from the workspace through a REAL Celery worker process.

The view commits the pending branch and enqueues ``trace_continue_task`` after
commit; a ``celery worker`` (own process, own database connection) calls the
model server over HTTP and fills the branch in; the branch panel polls until
it is done and then stops (286).
"""

from __future__ import annotations

import time

import pytest
from django.urls import reverse

from reflectlab.annotations.models import Annotation
from reflectlab.traces.models import Trace

pytestmark = [pytest.mark.worker, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

POLL_SECONDS = 60  # a bound for a busy machine, not a speed claim


def test_regenerate_from_the_workspace_runs_on_a_real_worker(
    celery_worker_process, logged_in, trace, user, model_config, model_server
):
    response = logged_in.post(
        reverse("annotations:regenerate", args=[trace.pk]),
        {"version": 1, "hint_step": 1, "hint": "Careful: 2 + 3 = 5."},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200, response.content
    branch = Trace.objects.get(parent=trace)
    url = reverse("traces:branch", args=[trace.pk, branch.pk])
    deadline = time.monotonic() + POLL_SECONDS
    while (panel := logged_in.get(url, headers={"HX-Request": "true"})).status_code == 200:
        assert 'hx-trigger="every 1s"' in panel.content.decode()
        assert time.monotonic() < deadline, "the worker never finished the branch"
        time.sleep(0.2)
    assert panel.status_code == 286
    branch.refresh_from_db()
    assert branch.state == Trace.State.READY, branch.error
    assert branch.final_correct is True and branch.model_config_id == model_config.pk
    assert model_server.requests, "the worker called the model server"
    html = panel.content.decode()
    assert '<mark class="hint"' in html and "final answer right" in html
    assert Annotation.objects.get(trace=trace, annotator=user).branch_id == branch.pk
