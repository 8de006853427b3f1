from __future__ import annotations

import pytest

from reflectlab.projects.models import Role
from reflectlab.providers.models import ModelConfig
from reflectlab.providers.testing import FakeOpenAIServer
from tests.factories import MembershipFactory

FORM = {
    "name": "tiny",
    "provider": "openai",
    "base_url": "http://127.0.0.1:8011/v1",
    "model": "tiny",
    "api_key_env": "REFLECTLAB_KEY_TINY",
    "temperature": 0.6,
    "top_p": 0.95,
    "max_tokens": 256,
    "top_logprobs": 0,
    "continuation_mode": "raw_completion",
    "max_concurrency": 8,
    "timeout_seconds": 60,
    "max_retries": 3,
    "extra_body": "",
}


def test_create_and_edit_a_config_in_the_browser(logged_in, project):
    response = logged_in.post(f"/projects/{project.pk}/models/new", FORM)
    config = ModelConfig.objects.get()
    assert response.status_code == 302 and config.project == project
    response = logged_in.post(f"/models/{config.pk}/", {**FORM, "max_concurrency": 16})
    assert response.status_code == 302
    config.refresh_from_db()
    assert config.max_concurrency == 16
    assert "tiny" in logged_in.get(f"/projects/{project.pk}/models/").content.decode()


def test_a_pasted_key_is_refused_and_never_printed_back(logged_in, project):
    response = logged_in.post(
        f"/projects/{project.pk}/models/new", {**FORM, "api_key_env": "sk-live-abc123 secret"}
    )
    body = response.content.decode()
    assert response.status_code == 200 and "never the key itself" in body
    assert "sk-live-abc123" not in body
    assert not ModelConfig.objects.exists()


def test_test_connection_lists_models_with_a_short_timeout(logged_in, project):
    with FakeOpenAIServer() as server:
        config = ModelConfig.objects.create(
            project=project, name="f", base_url=server.base_url, model="fake-model"
        )
        ok = logged_in.post(f"/models/{config.pk}/test", headers={"HX-Request": "true"})
    assert ok.status_code == 200 and "fake-model is served" in ok.content.decode()
    assert ok.content.decode().lstrip().startswith('<div id="connection-result"')
    down = logged_in.post(f"/models/{config.pk}/test", headers={"HX-Request": "true"})
    assert "Cannot connect" in down.content.decode()


def test_api_never_returns_the_key_variable(api, project, monkeypatch):
    monkeypatch.setenv("REFLECTLAB_KEY_TINY", "sk-very-secret")
    data = {k: v for k, v in FORM.items() if k != "extra_body"}
    response = api.post("/api/v1/model-configs/", {**data, "project": project.pk}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert "api_key_env" not in body and body["api_key_configured"] is True
    assert "sk-very-secret" not in response.content.decode()
    listed = api.get("/api/v1/model-configs/").content.decode()
    assert "REFLECTLAB_KEY_TINY" not in listed and "sk-very-secret" not in listed
    patched = api.patch(
        f"/api/v1/model-configs/{body['id']}/", {"max_concurrency": 2}, format="json"
    )
    assert patched.status_code == 200 and patched.json()["max_concurrency"] == 2
    bad = api.patch(f"/api/v1/model-configs/{body['id']}/", {"base_url": "ftp://x"}, format="json")
    assert bad.status_code == 400


@pytest.mark.parametrize("role", [Role.ANNOTATOR, Role.REVIEWER])
def test_only_managers_write_configs_through_the_api(api, project, make_user, role):
    from rest_framework.test import APIClient

    config = ModelConfig.objects.create(
        project=project, name="f", base_url="http://h/v1", model="m"
    )
    member = make_user()
    MembershipFactory(project=project, user=member, role=role)
    client = APIClient()
    client.force_authenticate(member)
    data = {"project": project.pk, "name": "n", "base_url": "http://h/v1", "model": "m"}
    assert client.post("/api/v1/model-configs/", data, format="json").status_code == 403
    patch = client.patch(f"/api/v1/model-configs/{config.pk}/", {"name": "x"}, format="json")
    assert patch.status_code == 403
    assert client.get(f"/api/v1/model-configs/{config.pk}/").status_code == 200
