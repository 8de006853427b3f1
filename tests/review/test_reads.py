"""Page views only read; the 409 has one shape; policy ids are bounded; SQLite needs no psycopg."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.test import APIClient

from reflectlab.annotations.models import Annotation
from reflectlab.review import claims
from reflectlab.review.models import Claim, QueueItem
from tests.review.conftest import submit

pytestmark = pytest.mark.django_db
WRITES = ("INSERT", "UPDATE", "DELETE", "ANALYZE")


def writes(queries) -> list[str]:
    return [q["sql"] for q in queries if q["sql"].lstrip().upper().startswith(WRITES)]


def test_queue_my_work_and_inbox_pages_never_write(client, project, traces, member, monkeypatch):
    first, _ = traces(2)
    annotator = member()
    claim = claims.queue_next(project=project, user=annotator)
    # Submitted without telling the queue: the claim closes at the next claim, not on a GET.
    submit(first if claim.trace_id == first.pk else claim.trace, annotator)
    traces(1)  # a new trace: it joins at the next claim, not when a page is shown
    items = QueueItem.objects.count()
    for user in (annotator, member("reviewer")):
        client.force_login(user)
        for name in ("review:queue", "review:my-work", "review:inbox"):
            with CaptureQueriesContext(connection) as queries:
                response = client.get(reverse(name, args=[project.pk]))
            assert response.status_code in (200, 403), name
            assert writes(queries.captured_queries) == [], name
        with CaptureQueriesContext(connection) as queries:
            client.get(
                reverse("review:queue", args=[project.pk]),
                headers={"HX-Request": "true", "HX-Target": "queue-counts"},
            )
        assert writes(queries.captured_queries) == []
    assert QueueItem.objects.count() == items
    assert Claim.objects.get(pk=claim.pk).state == "active"
    client.force_login(annotator)
    body = client.get(reverse("review:queue", args=[project.pk])).content.decode()
    assert "new, join at the next claim" in body
    # The claim path does the writes: the submitted claim closes, the new trace
    # joins (on PostgreSQL once the sync interval has passed).
    monkeypatch.setattr(claims, "QUEUE_SYNC_SECONDS", 0.0)
    nxt = claims.queue_next(project=project, user=annotator)
    assert Claim.objects.get(pk=claim.pk).state == "done" and nxt.pk != claim.pk
    assert QueueItem.objects.count() == items + 1


def test_every_409_has_one_shape(api, client, project, traces, member, user):
    (trace,) = traces(1)
    annotation = submit(trace, member())
    reviewer = member("reviewer")
    reviewers_api = APIClient()
    reviewers_api.force_authenticate(reviewer)
    url = f"/api/v1/annotations/{annotation.pk}/review"
    Annotation.objects.filter(pk=annotation.pk).update(version=2)
    stale = reviewers_api.post(url, {"decision": "accept", "version": 1}, format="json")
    assert stale.status_code == 409
    assert stale.json() == {
        "error": {
            "status": 409,
            "code": "conflict",
            "detail": "The annotation changed since you opened it; reload and decide again.",
        }
    }
    claim = claims.queue_next(project=project, user=user)
    claims.claim_release(claim=claim, by=user)
    lost = api.post(f"/api/v1/claims/{claim.pk}/heartbeat")
    assert lost.status_code == 409 and lost.json()["error"]["code"] == "claim_lost"
    # The workspace's JSON conflict and the API's stale save answer alike.
    other = traces(1)[0]
    created = api.post("/api/v1/annotations/", {"trace": other.pk}, format="json").json()
    api.patch(f"/api/v1/annotations/{created['id']}/", {"version": 1}, format="json")
    by_api = api.patch(f"/api/v1/annotations/{created['id']}/", {"version": 1}, format="json")
    client.force_login(user)
    by_page = client.post(
        reverse("annotations:save", args=[other.pk]),
        {"version": 1, "step_labels": "{}", "elapsed": 0},
        headers={"Accept": "application/json"},
    )
    assert by_api.status_code == by_page.status_code == 409
    assert by_api.json() == by_page.json()
    assert set(by_api.json()) == {"error", "current"}
    assert by_api.json()["error"]["code"] == "conflict"
    assert by_api.json()["current"]["version"] == 2


def test_queue_policy_refuses_run_ids_out_of_range(api, logged_in, project):
    url = f"/api/v1/projects/{project.pk}/queue/policy"
    for runs in ([99999999999999999999], [0], [-1]):
        response = api.put(url, {"runs": runs}, format="json")
        assert response.status_code == 400, runs
    response = api.patch(
        f"/api/v1/projects/{project.pk}/",
        {"queue_policy": {"runs": [99999999999999999999]}},
        format="json",
    )
    assert response.status_code == 400
    response = logged_in.post(
        reverse("review:policy", args=[project.pk]),
        {"order_1": "wrong_first", "runs": "99999999999999999999", "correctness": "any"}
        | {"gold_rate": "0.1"},
    )
    assert response.status_code == 400 and "out of range" in response.content.decode()
    project.refresh_from_db()
    assert not (project.queue_policy or {}).get("runs")


def test_claims_import_without_psycopg_on_sqlite():
    root = Path(__file__).resolve().parents[2]
    code = (
        "import sys; sys.modules['psycopg'] = None\n"
        "import django; django.setup()\n"
        "from reflectlab.review import claims, claims_pg, selectors\n"
        "assert claims_pg.psycopg is None and not claims_pg.in_use()\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env |= {"DJANGO_SETTINGS_MODULE": "reflectlab.settings", "DEBUG": "1"}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
