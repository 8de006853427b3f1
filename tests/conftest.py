from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from reflectlab.providers.models import ModelConfig
from reflectlab.providers.testing import FakeOpenAIServer
from tests.factories import MembershipFactory, ProjectFactory, TraceFactory, UserFactory

# Playwright on the system Chromium, for every browser test in the tree.
pytest_plugins = ["tests.browser.fixtures"]


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def user(db):
    return UserFactory()


@pytest.fixture
def project(db, user):
    project = ProjectFactory()
    MembershipFactory(project=project, user=user, role="manager")
    return project


@pytest.fixture
def trace(project):
    return TraceFactory(project=project)


@pytest.fixture
def api(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def logged_in(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def make_user(db):
    def make(**kwargs):
        return UserFactory(**kwargs)

    return make


@pytest.fixture
def model_server():
    """A real OpenAI-compatible HTTP server on 127.0.0.1 (``providers.testing``)."""
    with FakeOpenAIServer() as server:
        yield server


@pytest.fixture
def model_config(project, model_server):
    """The project's model config on ``model_server``: regeneration runs for real
    against it, in-process (``trace_continue``) or on a ``celery_worker_process``."""
    return ModelConfig.objects.create(
        project=project,
        name="fake",
        base_url=model_server.base_url,
        model="fake-model",
        timeout_seconds=5.0,
        max_retries=1,
    )


__all__ = ["get_user_model"]


@pytest.fixture
def celery_worker_env():
    """Extra environment for ``celery_worker_process`` (a module overrides it)."""
    return {}


def _worker_env(celery_worker_env) -> dict:
    import os

    from django.db import connection

    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        url = f"sqlite:///{db['NAME']}"
    else:
        url = (
            f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
        )
    return {**os.environ, "DATABASE_URL": url, "DEBUG": "0", **celery_worker_env}


def _start_worker(env: dict, log, name: str):
    import subprocess
    import sys

    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "reflectlab",
            "worker",
            "-Q",
            "default,models",
            "-P",
            "solo",
            "-n",
            f"{name}@%h",
            "-l",
            "info",
            "--without-mingle",
            "--without-gossip",
            "--without-heartbeat",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def _stop_workers(procs) -> None:
    import subprocess

    for proc in procs:
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture
def celery_worker_process(transactional_db, tmp_path, celery_worker_env):
    """A real ``celery worker`` process on the test database and the configured broker.

    Tests using it must commit their data (``transactional_db``), as the
    worker reads it through its own connection.
    """
    import time

    from reflectlab.celery import app

    app.control.purge()
    log = (tmp_path / "worker.log").open("w")
    proc = _start_worker(_worker_env(celery_worker_env), log, "worker")
    time.sleep(0.5)
    yield proc
    _stop_workers([proc])
    log.close()


@pytest.fixture
def celery_worker_processes(transactional_db, tmp_path, celery_worker_env):
    """Two real worker processes (``celery_worker_process``), for work split across workers;
    each logs to ``tmp_path / "worker-<i>.log"``."""
    import time

    from reflectlab.celery import app

    app.control.purge()
    env = _worker_env(celery_worker_env)
    logs = [(tmp_path / f"worker-{i}.log").open("w") for i in range(2)]
    procs = [_start_worker(env, log, f"worker{i}") for i, log in enumerate(logs)]
    time.sleep(0.5)
    yield procs
    _stop_workers(procs)
    for log in logs:
        log.close()
