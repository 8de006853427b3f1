"""Project create/update refuse a bad lexicon in every body type (found by schemathesis).

A form or multipart body's ``lexicon=null`` is the JSON text "null": DRF
parsed it to None after its null check, and the NOT NULL column answered
500. A lexicon the analysis cannot read would break every later import.
"""

from __future__ import annotations

import pytest

from reflectlab.projects.models import Project

BAD = ["null", "[1]", '"text"', '{"strong_start": "wait"}', '{"nonsense": []}', "{"]


def send(api, method: str, url: str, body: dict, kind: str):
    if kind == "json":
        return getattr(api, method)(url, body, format="json")
    if kind == "multipart":
        return getattr(api, method)(url, body, format="multipart")
    encoded = "&".join(f"{k}={v}" for k, v in body.items())
    return api.generic(
        method.upper(), url, encoded, content_type="application/x-www-form-urlencoded"
    )


@pytest.mark.parametrize("kind", ["urlencoded", "multipart"])
@pytest.mark.parametrize("lexicon", BAD)
def test_creating_a_project_with_a_bad_lexicon_is_a_400(api, user, kind, lexicon):
    response = send(api, "post", "/api/v1/projects/", {"name": "P", "lexicon": lexicon}, kind)
    assert response.status_code == 400, response.content
    assert "lexicon" in response.json()["error"]["fields"]
    assert not Project.objects.filter(name="P").exists()


@pytest.mark.parametrize("kind", ["urlencoded", "multipart"])
@pytest.mark.parametrize("lexicon", BAD)
def test_updating_a_project_with_a_bad_lexicon_is_a_400_and_keeps_it(api, project, kind, lexicon):
    Project.objects.filter(pk=project.pk).update(lexicon={"weak_start": ["but"]})
    response = send(api, "patch", f"/api/v1/projects/{project.pk}/", {"lexicon": lexicon}, kind)
    assert response.status_code == 400, response.content
    project.refresh_from_db()
    assert project.lexicon == {"weak_start": ["but"]}


def test_json_null_is_refused_too(api, project):
    response = send(api, "patch", f"/api/v1/projects/{project.pk}/", {"lexicon": None}, "json")
    assert response.status_code == 400


def test_a_valid_lexicon_is_stored_from_a_form_body(api, project):
    response = send(
        api,
        "patch",
        f"/api/v1/projects/{project.pk}/",
        {"lexicon": '{"version": "acme-1", "weak_start_extra": ["still"]}'},
        "urlencoded",
    )
    assert response.status_code == 200, response.content
    project.refresh_from_db()
    assert project.lexicon == {"version": "acme-1", "weak_start_extra": ["still"]}
