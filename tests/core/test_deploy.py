"""The documented production settings pass ``check --deploy``, and a DEBUG=0 server
serves its CSS and JavaScript once ``collectstatic`` has run.

Each test starts real processes with a clean environment, as an operator would.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from django.conf import settings
from django.contrib.staticfiles import finders

from reflectlab.dashboards.staticfiles import plotly_static_path

ROOT = Path(settings.BASE_DIR)
PRODUCTION_ENV = ROOT / "docker" / "production.env"


def production_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key in {"PATH", "HOME", "LANG", "LC_ALL", "SYSTEMROOT"}
    }
    for line in PRODUCTION_ENV.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            env[key] = value
    env |= {
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "reflectlab.example.org,127.0.0.1",
        "CSRF_TRUSTED_ORIGINS": "https://reflectlab.example.org",
        "REFLECTLAB_VAR_DIR": str(tmp_path / "var"),
        "STATIC_ROOT": str(tmp_path / "static"),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    return env | extra


def manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="module")
def collected_env(tmp_path_factory):
    """The production environment with ``collectstatic`` run once (it copies 5 MB)."""
    env = production_env(tmp_path_factory.mktemp("deploy"))
    collected = manage(env, "collectstatic", "--noinput")
    assert collected.returncode == 0, collected.stderr
    return env


def test_check_deploy_is_clean_with_the_documented_production_env(collected_env):
    result = manage(collected_env, "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_warns_when_static_files_were_not_collected(tmp_path):
    result = manage(production_env(tmp_path), "check", "--deploy")
    assert "reflectlab.W001" in result.stdout + result.stderr


def test_the_app_refuses_to_start_without_a_secret_key_in_production(tmp_path):
    env = production_env(tmp_path)
    del env["SECRET_KEY"]
    result = manage(env, "check")
    assert result.returncode != 0
    assert "SECRET_KEY is required" in result.stderr


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def production_server(collected_env):
    env = collected_env
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "reflectlab.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{base}/static/css/app.css", timeout=2)
                break
            except httpx.TransportError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"gunicorn did not start: {server.stderr.read().decode()}")
                time.sleep(0.2)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=20)


def test_a_debug_off_server_serves_css_and_js_after_collectstatic(production_server):
    # As behind the TLS proxy: it says the request came over https.
    headers = {"X-Forwarded-Proto": "https", "Host": "reflectlab.example.org"}
    for path, kind in [
        ("css/app.css", "text/css"),
        ("js/app.js", "javascript"),
        ("django_htmx/htmx-2.min.js", "javascript"),
        (plotly_static_path(), "javascript"),
    ]:
        response = httpx.get(f"{production_server}/static/{path}", headers=headers, timeout=10)
        assert response.status_code == 200, path
        assert kind in response.headers["content-type"], path
        assert response.content == Path(finders.find(path)).read_bytes(), path
    login = httpx.get(f"{production_server}/accounts/login/", headers=headers, timeout=10)
    assert login.status_code == 200  # pages render (with their /static/ links) with DEBUG off
    assert "/static/css/app.css" in login.text
    assert "max-age=31536000" in login.headers["strict-transport-security"]


def test_a_debug_off_server_redirects_plain_http_to_https(production_server):
    response = httpx.get(
        f"{production_server}/accounts/login/",
        headers={"Host": "reflectlab.example.org"},
        timeout=10,
    )
    assert response.status_code == 301
    assert response.headers["location"].startswith("https://reflectlab.example.org/")
    # Load balancers probe /healthz over plain http.
    health = httpx.get(f"{production_server}/healthz", timeout=10)
    assert health.status_code != 301
