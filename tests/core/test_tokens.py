"""API tokens expire and can be revoked (they used to live for ever)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

PASSWORD = "correct horse battery"


@pytest.fixture
def ada(make_user):
    user = make_user(username="ada")
    user.set_password(PASSWORD)
    user.save()
    return user


def sign_in() -> dict:
    response = APIClient().post(
        "/api/v1/auth/token", {"username": "ada", "password": PASSWORD}, format="json"
    )
    assert response.status_code == 200, response.content
    return response.json()


def get_projects(key: str):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client.get("/api/v1/projects/")


def test_a_token_works_until_it_expires_then_a_new_sign_in_replaces_it(ada, settings):
    settings.REFLECTLAB_TOKEN_TTL_DAYS = 30
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        body = sign_in()
        assert body["expires_at"].startswith(str((start + timedelta(days=30)).date()))
        assert get_projects(body["token"]).status_code == 200
    with time_machine.travel(start + timedelta(days=29), tick=False):
        assert get_projects(body["token"]).status_code == 200
        assert sign_in()["token"] == body["token"]  # still valid: the same token
    with time_machine.travel(start + timedelta(days=30, seconds=1), tick=False):
        response = get_projects(body["token"])
        assert response.status_code == 401
        assert "expired" in response.json()["error"]["detail"]
        fresh = sign_in()["token"]
        assert fresh != body["token"]
        assert get_projects(fresh).status_code == 200


def test_an_expired_token_sent_along_does_not_block_getting_a_new_one(ada, settings):
    settings.REFLECTLAB_TOKEN_TTL_DAYS = 1
    key = sign_in()["token"]
    with time_machine.travel(timezone.now() + timedelta(days=2), tick=False):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        response = client.post(
            "/api/v1/auth/token", {"username": "ada", "password": PASSWORD}, format="json"
        )
        assert response.status_code == 200
        assert response.json()["token"] != key


def test_delete_auth_token_revokes_it(ada):
    key = sign_in()["token"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.delete("/api/v1/auth/token").status_code == 204
    assert get_projects(key).status_code == 401
    assert not Token.objects.filter(user=ada).exists()


def test_delete_auth_token_needs_a_signed_in_caller():
    assert APIClient().delete("/api/v1/auth/token").status_code in {401, 403}


def test_the_token_page_creates_shows_once_and_revokes(client, ada):
    client.force_login(ada)
    page = reverse("api-token-page")
    assert "You have no API token" in client.get(page).content.decode()
    response = client.post(page, {"action": "create"})
    key = Token.objects.get(user=ada).key
    assert key in response.content.decode()
    assert key not in client.get(page).content.decode()  # shown once only
    assert get_projects(key).status_code == 200
    response = client.post(page, {"action": "revoke"})
    assert response.status_code == 302
    assert get_projects(key).status_code == 401


def test_the_token_page_needs_login(client):
    response = client.get(reverse("api-token-page"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
