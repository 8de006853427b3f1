"""Export files carry every annotator's names, labels and critiques: annotators may
not download them (they could, through the page and the API)."""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from reflectlab.exports.models import Export
from reflectlab.exports.services import export_create
from tests.exports.factories import corrected_annotation
from tests.factories import MembershipFactory, UserFactory


def member(project, role):
    user = UserFactory()
    MembershipFactory(project=project, user=user, role=role)
    return user


@pytest.fixture
def finished(project, run_export):
    corrected_annotation(project)
    return run_export("preference")


def test_an_annotator_cannot_download_an_export_page_or_api(client, project, finished):
    annotator = member(project, "annotator")
    client.force_login(annotator)
    page = reverse("exports:download", args=[project.pk, finished.pk])
    assert client.get(page).status_code == 403
    detail = client.get(reverse("exports:detail", args=[project.pk, finished.pk])).content.decode()
    assert page not in detail
    api = APIClient()
    api.force_authenticate(annotator)
    assert api.get(reverse("api-export-download", args=[finished.pk])).status_code == 403


@pytest.mark.parametrize("role", ["reviewer", "manager"])
def test_reviewers_and_managers_download(client, project, finished, role):
    client.force_login(member(project, role))
    response = client.get(reverse("exports:download", args=[project.pk, finished.pk]))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == finished.path.read_bytes()


@pytest.mark.parametrize("run", [99999999999999999999, 2**63, 0, -1, True, "abc"])
def test_an_absurd_run_id_in_export_filters_is_refused(project, user, run):
    with pytest.raises(ValueError, match="run"):
        export_create(
            project=project,
            user=user,
            kind="preference",
            format="jsonl",
            filters={"run": run},
            enqueue=False,
        )
    assert not Export.objects.exists()


def test_the_api_answers_400_for_an_absurd_run_id(api, project):
    response = api.post(
        f"/api/v1/projects/{project.pk}/exports/",
        {"kind": "preference", "format": "jsonl", "filters": {"run": 99999999999999999999}},
        format="json",
    )
    assert response.status_code == 400
    assert "run" in str(response.json())
