"""Database errors never show the driver's text; private responses are never cached."""

from __future__ import annotations

import logging
from unittest import mock

import pytest
from django.db import DataError, OperationalError
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from reflectlab.exports.models import Export
from reflectlab.exports.services import export_execute
from reflectlab.projects import selectors

DRIVER_TEXT = 'connection to server at "db.internal" (10.1.2.3), port 5432 failed: FATAL: role "rl"'


@pytest.fixture
def database_down(monkeypatch):
    def fail(**kwargs):
        raise OperationalError(DRIVER_TEXT)

    monkeypatch.setattr(selectors, "projects_for_user", fail)


@pytest.mark.usefixtures("database_down")
def test_a_page_hit_by_a_database_error_says_so_generically_and_logs_the_details(user, caplog):
    client = Client(raise_request_exception=False)
    client.force_login(user)
    with caplog.at_level(logging.ERROR):
        response = client.get(reverse("projects:list"))
    assert response.status_code == 503
    body = response.content.decode()
    assert "The database is unavailable" in body
    assert "db.internal" not in body and "FATAL" not in body
    assert DRIVER_TEXT in caplog.text


@pytest.mark.usefixtures("database_down")
def test_an_api_call_hit_by_a_database_error_answers_in_the_error_shape(api, caplog):
    with caplog.at_level(logging.ERROR):
        response = api.get("/api/v1/projects/")
    assert response.status_code == 503
    assert response.json() == {
        "error": {
            "status": 503,
            "code": "database_error",
            "detail": "The database is unavailable right now. Please try again in a moment.",
        }
    }
    assert DRIVER_TEXT in caplog.text


def test_a_database_outage_mid_session_shows_the_generic_page(logged_in, caplog):
    """Every query fails, the session lookup included (a real outage)."""
    from django.db.backends import utils

    def down(self, *args, **kwargs):
        raise OperationalError(DRIVER_TEXT)

    logged_in.raise_request_exception = False
    with (
        caplog.at_level(logging.ERROR),
        mock.patch.object(utils.CursorWrapper, "execute", down),
    ):
        response = logged_in.get(reverse("projects:list"))
    assert response.status_code == 503
    assert "db.internal" not in response.content.decode()
    assert "The database is unavailable" in response.content.decode()


def test_a_data_error_in_the_api_is_a_400_without_the_driver_text(api, monkeypatch):
    def fail(**kwargs):
        raise DataError('value too long for type character varying(255) in "prompts_prompt"')

    monkeypatch.setattr(selectors, "projects_for_user", fail)
    response = api.get("/api/v1/projects/")
    assert response.status_code == 400
    assert "prompts_prompt" not in response.content.decode()


def test_a_failed_export_stores_no_driver_text(project, monkeypatch):
    from reflectlab.exports import services

    def fail(**kwargs):
        # Not a transient error (those go back to the task, which retries).
        raise DataError(DRIVER_TEXT)

    monkeypatch.setattr(services, "export_build", fail)
    export = Export.objects.create(project=project, kind="preference", format="jsonl")
    export_execute(export_id=export.pk)
    export.refresh_from_db()
    assert export.state == Export.State.FAILED
    assert "db.internal" not in export.error
    assert "DataError" in export.error


def test_authenticated_api_json_is_never_stored(api, project):
    response = api.get(f"/api/v1/projects/{project.pk}/")
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]


def test_token_authenticated_api_json_is_never_stored(user, project):
    response = APIClient().post(
        "/api/v1/auth/token", {"username": user.username, "password": "x"}, format="json"
    )
    assert "no-store" in response["Cache-Control"]  # even the refusal


def test_signed_in_pages_are_never_stored(logged_in):
    response = logged_in.get(reverse("projects:list"))
    assert "no-store" in response["Cache-Control"]


def test_the_login_page_may_be_cached_by_nobody_but_keeps_its_own_policy(client):
    # Django's login view sets its own never_cache headers; they stay.
    response = client.get(reverse("login"))
    assert "no-store" in response["Cache-Control"]


def test_healthz_keeps_its_own_cache_policy(client):
    assert "max-age=0" in client.get("/healthz")["Cache-Control"]
