"""API parity: a script-only user links a regenerated branch to an annotation
(so corrected SFT / preference exports get it) and reads logprobs on request."""

from __future__ import annotations

import pytest

from reflectlab.annotations.models import Annotation
from reflectlab.runs.tasks import trace_continue_task
from tests.factories import TraceFactory, UserFactory

TAGGED = "<think>\nWe need 2 + 3.\n\n2 + 3 = 6.\n\nSo 6.\n</think>\n\nThe answer is \\boxed{6}."


@pytest.fixture
def parent(project, make_config, monkeypatch):
    make_config()
    monkeypatch.setattr(trace_continue_task, "delay", lambda *args: None)
    return TraceFactory(project=project, raw_response=TAGGED)


def regenerate(api, parent, **body):
    return api.post(
        f"/api/v1/traces/{parent.pk}/regenerate",
        {"step": 1, "hint": "Recheck.", **body},
        format="json",
    )


def test_the_branch_is_linked_to_the_named_annotation(api, user, parent):
    annotation = Annotation.objects.create(project=parent.project, trace=parent, annotator=user)
    response = regenerate(api, parent, annotation=annotation.pk, version=annotation.version)
    assert response.status_code == 202, response.content
    branch = response.json()
    annotation.refresh_from_db()
    assert annotation.branch_id == branch["id"] and branch["annotation"] == annotation.pk
    assert (annotation.hint, annotation.hint_step) == ("Recheck.", 1)
    detail = api.get(f"/api/v1/traces/{parent.pk}/").json()
    assert detail["branches"][0]["annotation"] == annotation.pk
    assert api.get(f"/api/v1/annotations/{annotation.pk}/").json()["branch"] == branch["id"]


def test_without_an_id_the_callers_draft_annotation_is_linked(api, user, parent):
    annotation = Annotation.objects.create(project=parent.project, trace=parent, annotator=user)
    branch = regenerate(api, parent).json()
    annotation.refresh_from_db()
    assert annotation.branch_id == branch["id"] and branch["annotation"] == annotation.pk


def test_without_any_annotation_the_branch_stands_alone(api, parent):
    response = regenerate(api, parent)
    assert response.status_code == 202 and response.json()["annotation"] is None


def test_someone_elses_annotation_is_refused(api, parent):
    other = UserFactory()
    theirs = Annotation.objects.create(project=parent.project, trace=parent, annotator=other)
    response = regenerate(api, parent, annotation=theirs.pk)
    assert response.status_code == 400 and "Not your annotation" in response.content.decode()
    theirs.refresh_from_db()
    assert theirs.branch_id is None


def test_a_stale_annotation_version_is_a_conflict(api, user, parent):
    annotation = Annotation.objects.create(project=parent.project, trace=parent, annotator=user)
    response = regenerate(api, parent, annotation=annotation.pk, version=annotation.version + 5)
    assert response.status_code == 409 and response.json()["current"]["version"] == 1


def test_logprobs_come_only_when_asked_for(api, project):
    logprobs = [{"token": "So", "logprob": -0.1, "top_logprobs": []}]
    trace = TraceFactory(project=project, logprobs=logprobs, reasoning_tokens=7)
    plain = api.get(f"/api/v1/traces/{trace.pk}/").json()
    assert "logprobs" not in plain and plain["reasoning_tokens"] == 7 and plain["warnings"] == []
    full = api.get(f"/api/v1/traces/{trace.pk}/?include=logprobs").json()
    assert full["logprobs"] == logprobs
    assert api.get(f"/api/v1/traces/{trace.pk}/?include=everything").status_code == 400


def test_the_schema_documents_branch_filter_and_include(api):
    schema = api.get("/api/v1/schema/", HTTP_ACCEPT="application/json").content.decode()
    assert "branch_filter: correct" in schema and "include=logprobs" in schema
