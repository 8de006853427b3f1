"""API tokens expire, can be revoked, and every sign-in issues a new one (the keys
are stored as digests, so an earlier key cannot be handed out again)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from reflectlab.core import tokens
from reflectlab.core.models import ApiToken
from reflectlab.core.tokens import token_digest, token_issue

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


def client_for(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def get_projects(key: str):
    return client_for(key).get("/api/v1/projects/")


def test_a_token_works_until_it_expires_and_each_sign_in_issues_another(ada, settings):
    settings.REFLECTLAB_TOKEN_TTL_DAYS = 30
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        body = sign_in()
        assert body["expires_at"].startswith(str((start + timedelta(days=30)).date()))
        assert get_projects(body["token"]).status_code == 200
    with time_machine.travel(start + timedelta(days=29), tick=False):
        second = sign_in()["token"]
        assert second != body["token"]  # a new token; the first still works
        assert get_projects(body["token"]).status_code == 200
        assert get_projects(second).status_code == 200
    with time_machine.travel(start + timedelta(days=30, seconds=1), tick=False):
        response = get_projects(body["token"])
        assert response.status_code == 401
        assert "expired" in response.json()["error"]["detail"]
        assert get_projects(second).status_code == 200  # it counts from its own issue
        fresh = sign_in()["token"]
        assert get_projects(fresh).status_code == 200
        # Issuing cleared the expired one away.
        assert not ApiToken.objects.filter(digest=token_digest(body["token"])).exists()
    assert ApiToken.objects.filter(user=ada).count() == 2


def test_an_expired_token_sent_along_does_not_block_getting_a_new_one(ada, settings):
    settings.REFLECTLAB_TOKEN_TTL_DAYS = 1
    key = sign_in()["token"]
    with time_machine.travel(timezone.now() + timedelta(days=2), tick=False):
        response = client_for(key).post(
            "/api/v1/auth/token", {"username": "ada", "password": PASSWORD}, format="json"
        )
        assert response.status_code == 200
        assert response.json()["token"] != key


def test_a_wrong_or_altered_key_is_refused(ada):
    key = sign_in()["token"]
    for other in (key[:-1], key + "x", key.upper(), token_digest(key)):
        response = get_projects(other)
        assert response.status_code == 401 and response.json()["error"]["detail"] == (
            "Invalid token."
        )


def test_an_inactive_users_token_is_refused(ada):
    key = sign_in()["token"]
    ada.is_active = False
    ada.save()
    assert get_projects(key).status_code == 401


def test_delete_auth_token_revokes_the_token_it_is_sent_with(ada):
    key, other = sign_in()["token"], sign_in()["token"]
    assert client_for(key).delete("/api/v1/auth/token").status_code == 204
    assert get_projects(key).status_code == 401
    assert get_projects(other).status_code == 200  # another script's token lives on
    assert not ApiToken.objects.filter(digest=token_digest(key)).exists()


def test_delete_auth_token_with_a_session_revokes_all_of_them(ada):
    keys = [sign_in()["token"] for _ in range(2)]
    client = APIClient()
    client.force_login(ada)  # a session: the CSRF check applies, APIClient skips it
    assert client.delete("/api/v1/auth/token").status_code == 204
    assert [get_projects(key).status_code for key in keys] == [401, 401]
    assert not ApiToken.objects.filter(user=ada).exists()


def test_delete_auth_token_needs_a_signed_in_caller():
    assert APIClient().delete("/api/v1/auth/token").status_code in {401, 403}


def test_use_is_recorded_at_most_once_a_minute(ada):
    key = sign_in()["token"]
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        assert get_projects(key).status_code == 200
    assert ApiToken.objects.get(user=ada).last_used == start
    with time_machine.travel(start + timedelta(seconds=30), tick=False):
        get_projects(key)
    assert ApiToken.objects.get(user=ada).last_used == start
    with time_machine.travel(start + timedelta(seconds=61), tick=False):
        get_projects(key)
    assert ApiToken.objects.get(user=ada).last_used == start + timedelta(seconds=61)


def test_sign_ins_keep_at_most_the_cap_of_tokens_newest_first(ada, monkeypatch):
    monkeypatch.setattr(tokens, "MAX_TOKENS_PER_USER", 3)
    start = timezone.now()
    keys = []
    for minute in range(5):
        with time_machine.travel(start + timedelta(minutes=minute), tick=False):
            keys.append(token_issue(user=ada).key)
    assert ApiToken.objects.filter(user=ada).count() == 3
    assert [get_projects(key).status_code for key in keys] == [401, 401, 200, 200, 200]


def test_the_token_page_creates_shows_once_and_revokes(client, ada):
    client.force_login(ada)
    page = reverse("api-token-page")
    assert "You have no API token" in client.get(page).content.decode()
    response = client.post(page, {"action": "create"})
    body = response.content.decode()
    (token,) = ApiToken.objects.filter(user=ada)
    key = body.split('<pre class="raw token-key">')[1].split("</pre>")[0]
    assert token.digest == token_digest(key) and key.startswith(token.prefix)
    listed = client.get(page).content.decode()
    assert key not in listed  # shown once only
    assert f"<code>{token.prefix}…</code>" in listed
    assert get_projects(key).status_code == 200
    response = client.post(page, {"action": "revoke", "token": token.pk})
    assert response.status_code == 302
    assert get_projects(key).status_code == 401


def test_the_token_page_replaces_all_and_revokes_all(client, ada):
    old = [token_issue(user=ada).key for _ in range(2)]
    client.force_login(ada)
    page = reverse("api-token-page")
    body = client.post(page, {"action": "rotate"}).content.decode()
    new = body.split('<pre class="raw token-key">')[1].split("</pre>")[0]
    assert [get_projects(key).status_code for key in old] == [401, 401]
    assert get_projects(new).status_code == 200
    assert client.post(page, {"action": "revoke"}).status_code == 302
    assert get_projects(new).status_code == 401


def test_the_token_page_revokes_only_the_callers_tokens(client, ada, make_user):
    bob = make_user(username="bob")
    bobs = token_issue(user=bob)
    client.force_login(ada)
    page = reverse("api-token-page")
    client.post(page, {"action": "revoke", "token": bobs.token.pk})
    assert get_projects(bobs.key).status_code == 200
    assert client.post(page, {"action": "nonsense"}).status_code == 400
    assert client.post(page, {"action": "revoke", "token": "2**70"}).status_code == 400


def test_the_token_page_needs_login(client):
    response = client.get(reverse("api-token-page"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
