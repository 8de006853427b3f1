"""Export pages and API: who may start, see and download exports."""

from __future__ import annotations

from unittest import mock

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from reflectlab.exports.models import Export
from tests.exports.factories import corrected_annotation
from tests.factories import MembershipFactory, UserFactory

FORM = {
    "kind": "all",
    "format": "bundle",
    "hint_mode": "inline",
    "reasoning": "think_tags",
    "branch_filter": "correct",
    "train_ratio": "0.9",
    "accepted_only": "on",
    "exclude_gold": "on",
}


def member(project, role):
    user = UserFactory()
    MembershipFactory(project=project, user=user, role=role)
    return user


def test_list_page_shows_exports_and_the_form_to_reviewers(client, project, run_export):
    corrected_annotation(project)
    export = run_export("preference")
    client.force_login(member(project, "reviewer"))
    page = client.get(reverse("exports:list", args=[project.pk])).content.decode()
    assert "New export" in page
    assert reverse("exports:download", args=[project.pk, export.pk]) in page
    client.force_login(member(project, "annotator"))
    page = client.get(reverse("exports:list", args=[project.pk])).content.decode()
    assert "New export" not in page
    assert reverse("exports:download", args=[project.pk, export.pk]) not in page


def test_create_from_the_form_queues_a_worker_task(
    client, project, django_capture_on_commit_callbacks
):
    client.force_login(member(project, "reviewer"))
    with (
        mock.patch("reflectlab.exports.tasks.export_task.delay") as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = client.post(reverse("exports:create", args=[project.pk]), FORM)
    export = Export.objects.get()
    assert response.status_code == 302 and response["Location"].endswith(f"/exports/{export.pk}/")
    delay.assert_called_once_with(export.pk)
    assert export.options["splits"] == {"train": 0.9, "test": pytest.approx(0.1)}


def test_bad_form_is_shown_again(client, project):
    client.force_login(member(project, "manager"))
    response = client.post(
        reverse("exports:create", args=[project.pk]), {**FORM, "format": "jsonl"}
    )
    assert response.status_code == 400
    assert "only available as a bundle" in response.content.decode()
    assert not Export.objects.exists()


def test_status_partial_polls_until_done(client, project, run_export):
    corrected_annotation(project)
    client.force_login(member(project, "reviewer"))
    queued = Export.objects.create(project=project, kind="preference")
    url = reverse("exports:detail", args=[project.pk, queued.pk])
    partial = client.get(url, headers={"HX-Request": "true"})
    assert partial.status_code == 200 and 'hx-trigger="every 1s"' in partial.content.decode()
    assert "<html" not in partial.content.decode()
    done = run_export("preference")
    finished = client.get(
        reverse("exports:detail", args=[project.pk, done.pk]), headers={"HX-Request": "true"}
    )
    assert finished.status_code == 286
    assert "Download" in finished.content.decode()


def test_download_streams_the_file_to_reviewers_only(client, project, run_export):
    corrected_annotation(project)
    export = run_export("preference", "parquet")
    client.force_login(member(project, "reviewer"))
    response = client.get(reverse("exports:download", args=[project.pk, export.pk]))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == export.path.read_bytes()
    assert response["X-Content-SHA256"] == export.sha256
    assert "attachment" in response["Content-Disposition"]
    outsider = UserFactory()
    MembershipFactory(user=outsider, role="manager")
    client.force_login(outsider)
    assert client.get(reverse("exports:download", args=[project.pk, export.pk])).status_code == 404
    api = APIClient()
    api.force_authenticate(outsider)
    assert api.get(reverse("api-export-download", args=[export.pk])).status_code == 404


def test_unfinished_export_has_nothing_to_download(client, project):
    export = Export.objects.create(project=project, kind="preference")
    client.force_login(member(project, "manager"))
    assert client.get(reverse("exports:download", args=[project.pk, export.pk])).status_code == 404


@pytest.mark.parametrize(
    ("role", "status"), [("annotator", 403), ("reviewer", 202), ("manager", 202)]
)
def test_api_create_needs_reviewer(project, role, status):
    api = APIClient()
    api.force_authenticate(member(project, role))
    response = api.post(
        reverse("api-exports", args=[project.pk]),
        {"kind": "preference", "format": "jsonl", "options": {"hint_mode": "stripped"}},
        format="json",
    )
    assert response.status_code == status
    if status == 202:
        assert response.json()["state"] == "queued"
        assert response.json()["options"]["hint_mode"] == "stripped"


def test_api_refuses_bad_options(api, project):
    response = api.post(
        reverse("api-exports", args=[project.pk]),
        {"kind": "stepwise", "format": "openai"},
        format="json",
    )
    assert response.status_code == 400


def test_api_status_and_download(api, project, run_export):
    corrected_annotation(project)
    export = run_export("preference")
    body = api.get(reverse("api-export", args=[export.pk])).json()
    assert body["state"] == "succeeded" and body["sha256"] == export.sha256
    assert body["download"] == reverse("api-export-download", args=[export.pk])
    listed = api.get(reverse("api-exports", args=[project.pk])).json()
    assert [e["id"] for e in listed["results"]] == [export.pk]
    response = api.get(body["download"])
    assert b"".join(response.streaming_content) == export.path.read_bytes()


def test_export_list_page_is_paginated_newest_first(client, project, user):
    exports = [Export.objects.create(project=project, kind="preference") for _ in range(51)]
    client.force_login(user)
    first = client.get(reverse("exports:list", args=[project.pk])).content.decode()
    second = client.get(reverse("exports:list", args=[project.pk]), {"page": 2}).content.decode()
    newest, oldest = exports[-1], exports[0]
    detail = lambda e: reverse("exports:detail", args=[project.pk, e.pk])  # noqa: E731
    assert detail(newest) in first and detail(oldest) not in first
    assert detail(oldest) in second and detail(newest) not in second
    assert "Page 1 of 2" in first and "page=2" in first
    junk = client.get(reverse("exports:list", args=[project.pk]), {"page": "x"})
    assert junk.status_code == 200 and "Page 1 of 2" in junk.content.decode()


def test_api_export_list_is_paginated(api, project):
    ids = [Export.objects.create(project=project, kind="preference").pk for _ in range(3)]
    url = reverse("api-exports", args=[project.pk])
    first = api.get(url, {"page_size": 2}).json()
    assert first["count"] == 3 and [e["id"] for e in first["results"]] == ids[:0:-1]
    second = api.get(first["next"]).json()
    assert [e["id"] for e in second["results"]] == ids[:1] and second["next"] is None


def test_api_cancel(api, project):
    export = Export.objects.create(project=project, kind="preference", state="running")
    assert api.post(reverse("api-export-cancel", args=[export.pk])).json()["state"] == "cancelled"
    again = api.post(reverse("api-export-cancel", args=[export.pk]))
    assert again.status_code == 409  # the one Conflict shape, the export as it is now
    assert again.json()["error"] == {
        "status": 409, "code": "conflict", "detail": "The export has already finished."
    }  # fmt: skip
    assert again.json()["current"]["state"] == "cancelled"


def test_export_command_writes_and_copies(project, tmp_path):
    from django.core.management import call_command

    corrected_annotation(project)
    call_command("export", project=project.pk, kind="all", format="bundle", output=str(tmp_path))
    export = Export.objects.get()
    assert (tmp_path / export.file_name).read_bytes() == export.path.read_bytes()
