"""Attacks through a model config: reading the server's secrets, reaching its network."""

from __future__ import annotations

import socket

import pytest

from reflectlab.providers import outbound
from reflectlab.providers.base import (
    GenerationRequest,
    PermanentProviderError,
    Sampling,
    TransientProviderError,
)
from reflectlab.providers.models import ModelConfig
from reflectlab.providers.openai_http import OpenAIHttpProvider
from reflectlab.providers.registry import api_key_for, provider_for
from reflectlab.providers.services import model_config_test
from reflectlab.providers.testing import FakeOpenAIServer
from reflectlab.runs import services as run_services
from reflectlab.runs.models import Run, RunItem
from tests.factories import PromptFactory

SAMPLING = Sampling(model="fake-model", max_tokens=16)
API_CONFIG = {"name": "x", "model": "fake-model", "provider": "openai"}


@pytest.fixture
def server():
    with FakeOpenAIServer() as server:
        yield server


def ask(provider, text: str = "hi"):
    return provider.generate(
        GenerationRequest(sampling=SAMPLING, messages=[{"role": "user", "content": text}])
    )


# -- secret exfiltration ------------------------------------------------------------


@pytest.mark.parametrize("name", ["SECRET_KEY", "DATABASE_URL", "REFLECTLAB_KEY_"])
def test_the_api_refuses_a_key_variable_outside_the_allowlist(api, project, server, name):
    data = {**API_CONFIG, "project": project.pk, "base_url": server.base_url, "api_key_env": name}
    response = api.post("/api/v1/model-configs/", data, format="json")
    assert response.status_code == 400
    assert "REFLECTLAB_KEY_" in response.json()["error"]["fields"]["api_key_env"][0]
    assert not ModelConfig.objects.exists()


def test_the_form_refuses_a_key_variable_outside_the_allowlist(logged_in, project, server):
    form = {**API_CONFIG, "base_url": server.base_url, "api_key_env": "SECRET_KEY",
            "temperature": 0.6, "top_p": 0.95, "max_tokens": 16, "top_logprobs": 0,
            "continuation_mode": "raw_completion", "max_concurrency": 1, "timeout_seconds": 5,
            "max_retries": 0}  # fmt: skip
    response = logged_in.post(f"/projects/{project.pk}/models/new", form)
    assert response.status_code == 200 and "REFLECTLAB_KEY_" in response.content.decode()
    assert not ModelConfig.objects.exists()


def test_the_prefix_and_the_operators_list_are_allowed(api, project, server, settings):
    settings.REFLECTLAB_ALLOWED_KEY_ENVS = "OPENAI_API_KEY, OTHER"
    for name in ["REFLECTLAB_KEY_VLLM", "OPENAI_API_KEY"]:
        data = {**API_CONFIG, "project": project.pk, "base_url": server.base_url,
                "api_key_env": name}  # fmt: skip
        assert api.post("/api/v1/model-configs/", data, format="json").status_code == 201


def test_a_stored_row_naming_a_secret_sends_nothing(
    project, user, server, monkeypatch, django_capture_on_commit_callbacks
):
    """A config saved before the rule (or written around it) is refused when used."""
    monkeypatch.setenv("SECRET_KEY", "the-servers-signing-key")
    config = ModelConfig.objects.create(
        project=project, name="x", base_url=server.base_url, model="fake-model",
        api_key_env="SECRET_KEY",
    )  # fmt: skip
    with pytest.raises(PermanentProviderError, match="not allowed"):
        api_key_for(config)
    with pytest.raises(PermanentProviderError):
        provider_for(config)
    check = model_config_test(config=config)
    assert not check.ok and "not allowed" in check.message
    assert config.api_key_configured is False  # says nothing about SECRET_KEY

    PromptFactory(project=project, text="q")
    run = run_services.run_create(project=project, model_config=config, user=user, enqueue=False)
    run = run_services.run_execute(run_id=run.pk)
    assert run.state == Run.State.FAILED
    assert "not allowed" in RunItem.objects.get(run=run).error
    assert server.headers == []  # not one request left the worker


def test_api_key_configured_only_for_allowed_names(project, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgres://x")
    monkeypatch.setenv("REFLECTLAB_KEY_TINY", "sk-1")
    probe = ModelConfig(project=project, api_key_env="DATABASE_URL")
    allowed = ModelConfig(project=project, api_key_env="REFLECTLAB_KEY_TINY")
    assert (probe.api_key_configured, allowed.api_key_configured) == (False, True)


def test_an_allowed_key_is_sent_as_a_bearer_token(project, server, monkeypatch):
    monkeypatch.setenv("REFLECTLAB_KEY_FAKE", "sk-fake")
    config = ModelConfig(project=project, base_url=server.base_url, model="fake-model",
                         api_key_env="REFLECTLAB_KEY_FAKE")  # fmt: skip
    provider = provider_for(config)
    try:
        ask(provider)
    finally:
        provider.close()
    assert server.headers[-1]["authorization"] == "Bearer sk-fake"


# -- SSRF -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data",
        "http://10.0.0.7:6379/v1",
        "http://2130706433:80/v1",  # 127.0.0.1 spelt as a number: allowed only by address
        "http://internal-db.example/v1",
        "http://user:pw@127.0.0.1/v1",
        "file:///etc/passwd",
    ],
)
def test_base_urls_outside_the_host_allowlist_are_refused(api, project, settings, url):
    settings.REFLECTLAB_MODEL_HOSTS = "localhost,api.example.org"
    data = {**API_CONFIG, "project": project.pk, "base_url": url}
    response = api.post("/api/v1/model-configs/", data, format="json")
    assert response.status_code == 400 and "base_url" in response.json()["error"]["fields"]
    assert not ModelConfig.objects.exists()


def test_the_default_allows_loopback_only():
    policy = outbound.HostPolicy(outbound.DEFAULT_MODEL_HOSTS)
    assert policy.pinned_address("localhost", 80) is None
    assert policy.pinned_address("127.0.0.1", 80) == "127.0.0.1"
    assert policy.pinned_address("::1", 80) == "::1"
    for host in ["10.1.2.3", "169.254.169.254", "192.168.0.1"]:
        with pytest.raises(outbound.OutboundRefused):
            policy.pinned_address(host, 80)


def test_wildcards_and_networks():
    policy = outbound.HostPolicy("*.models.example, 10.0.0.0/8")
    assert policy.name_allowed("a.models.example") and not policy.name_allowed("models.example")
    assert policy.pinned_address("10.9.9.9", 80) == "10.9.9.9"
    assert outbound.HostPolicy("*").pinned_address("169.254.169.254", 80) is None


def test_a_stored_row_to_a_foreign_host_is_refused_at_request_time(server, settings):
    """Checked per request: rows saved earlier, or a changed allowlist, are caught."""
    settings.REFLECTLAB_MODEL_HOSTS = "localhost"  # by name only: 127.0.0.1 is not listed
    provider = OpenAIHttpProvider(base_url=server.base_url, timeout=2)
    try:
        with pytest.raises(PermanentProviderError, match="not allowed"):
            ask(provider)
        with pytest.raises(PermanentProviderError, match="not allowed"):
            provider.list_models(timeout=1)
    finally:
        provider.close()
    assert server.headers == []


def test_a_name_is_connected_at_the_address_that_was_checked(server, settings, monkeypatch):
    """No DNS rebinding: the transport connects to the address it resolved and checked."""
    settings.REFLECTLAB_MODEL_HOSTS = "127.0.0.0/8"
    real = socket.getaddrinfo
    calls = []

    def fake_dns(host, *args, **kwargs):
        calls.append(host)
        if host == "model.rebind.test":  # first answer allowed, any later one foreign
            answer = "127.0.0.1" if calls.count(host) == 1 else "10.66.66.66"
            return real(answer, *args, **kwargs)
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake_dns)
    provider = OpenAIHttpProvider(base_url=f"http://model.rebind.test:{server.port}/v1", timeout=2)
    try:
        assert ask(provider).content.startswith("<think>")
    finally:
        provider.close()
    assert calls.count("model.rebind.test") == 1
    assert server.headers[-1]["host"] == f"model.rebind.test:{server.port}"


def test_redirects_are_refused_not_followed(server):
    provider = OpenAIHttpProvider(base_url=server.base_url, timeout=2)
    try:
        with pytest.raises(PermanentProviderError, match="redirects are not followed"):
            ask(provider, "FAULT:redirect")
    finally:
        provider.close()
    assert len(server.headers) == 1


# -- error messages ---------------------------------------------------------------------


def test_a_foreign_error_body_is_never_echoed(server):
    provider = OpenAIHttpProvider(base_url=server.base_url, timeout=2)
    try:
        with pytest.raises(TransientProviderError) as caught:
            ask(provider, "FAULT:html")
    finally:
        provider.close()
    assert str(caught.value) == "HTTP 502 Bad Gateway"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"error": {"message": "Rate limit reached"}}', "HTTP 429 Too Many Requests: Rate limit reached"),
        (b'{"error": {"message": "' + b"x" * 201 + b'"}}', "HTTP 429 Too Many Requests"),
        (b'{"error": {"message": "see <a href=//evil>"}}', "HTTP 429 Too Many Requests"),
        (b'{"error": {"message": "two\\nlines"}}', "HTTP 429 Too Many Requests"),
        (b'{"detail": {"secret": "value"}}', "HTTP 429 Too Many Requests"),
        (b"plain text with internal details", "HTTP 429 Too Many Requests"),
    ],
)  # fmt: skip
def test_only_a_short_plain_openai_message_is_kept(body, expected):
    import httpx

    from reflectlab.providers.openai_http import _server_message

    assert _server_message(httpx.Response(429, content=body)) == expected
