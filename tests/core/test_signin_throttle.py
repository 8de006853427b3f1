"""Sign-in throttling: 30 wrong passwords then the right one used to succeed."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from reflectlab.core.models import SignInCounter
from reflectlab.core.throttle import client_address

PASSWORD = "correct horse battery"


@pytest.fixture
def victim(make_user):
    user = make_user(username="ada")
    user.set_password(PASSWORD)
    user.save()
    return user


@pytest.fixture
def limits(settings):
    settings.REFLECTLAB_LOGIN_MAX_FAILURES = 5
    settings.REFLECTLAB_LOGIN_MAX_FAILURES_PER_IP = 8
    settings.REFLECTLAB_LOGIN_WINDOW_SECONDS = 600
    return settings


def ui_login(client, username, password, address="10.0.0.1"):
    return client.post(
        reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=address
    )


def api_login(username, password, address="10.0.0.1"):
    return APIClient().post(
        "/api/v1/auth/token", {"username": username, "password": password}, REMOTE_ADDR=address
    )


@pytest.mark.usefixtures("limits")
def test_thirty_wrong_passwords_lock_the_login_page_even_for_the_right_one(client, victim):
    for _ in range(30):
        ui_login(client, "ada", "wrong")
    response = ui_login(client, "ada", PASSWORD)
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert "Too many failed sign-ins" in response.content.decode()
    assert "_auth_user_id" not in client.session


@pytest.mark.usefixtures("limits")
def test_the_api_token_endpoint_is_throttled_per_username(victim):
    for _ in range(5):
        assert api_login("ada", "wrong").status_code == 400
    # Another address, same username: still locked (per-username limit).
    response = api_login("ada", PASSWORD, address="10.9.9.9")
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "throttled"
    assert "Retry-After" in response


@pytest.mark.usefixtures("limits")
def test_the_username_limit_ignores_case(victim):
    for name in ["ADA", "Ada", "aDa", "adA", "ada"]:
        api_login(name, "wrong")
    assert api_login("ada", PASSWORD).status_code == 429


@pytest.mark.usefixtures("limits")
def test_one_address_guessing_many_usernames_is_throttled(victim, make_user):
    for i in range(8):
        api_login(f"user{i}", "wrong", address="10.6.6.6")
    assert api_login("ada", PASSWORD, address="10.6.6.6").status_code == 429
    assert api_login("ada", PASSWORD, address="10.7.7.7").status_code == 200


@pytest.mark.usefixtures("limits")
def test_a_right_password_under_the_limit_resets_the_username_count(victim):
    for _ in range(4):
        api_login("ada", "wrong")
    assert api_login("ada", PASSWORD).status_code == 200
    for _ in range(4):
        api_login("ada", "wrong", address="10.0.0.2")
    assert api_login("ada", PASSWORD, address="10.0.0.2").status_code == 200


@pytest.mark.usefixtures("limits")
def test_the_lock_ends_by_itself_after_two_windows(victim):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        for _ in range(6):
            api_login("ada", "wrong")
        assert api_login("ada", PASSWORD).status_code == 429
    with time_machine.travel(start + timedelta(seconds=1201), tick=False):
        assert api_login("ada", PASSWORD).status_code == 200


@pytest.mark.usefixtures("limits")
def test_the_counters_hold_no_usernames_in_clear(victim):
    api_login("ada", "hunter2-typed-into-the-wrong-box")
    assert SignInCounter.objects.exists()
    for counter in SignInCounter.objects.all():
        assert "ada" not in counter.ident and "hunter2" not in counter.ident


@pytest.mark.usefixtures("limits")
def test_the_admin_login_is_throttled_too(client, victim):
    victim.is_staff = True
    victim.save()
    for _ in range(6):
        client.post("/admin/login/", {"username": "ada", "password": "wrong"})
    client.post("/admin/login/", {"username": "ada", "password": PASSWORD})
    assert "_auth_user_id" not in client.session


def test_forwarded_for_is_trusted_only_behind_configured_proxies(rf, settings):
    request = rf.get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.9")
    settings.REFLECTLAB_TRUSTED_PROXY_HOPS = 0
    assert client_address(request) == "10.0.0.2"
    settings.REFLECTLAB_TRUSTED_PROXY_HOPS = 1
    assert client_address(request) == "203.0.113.9"  # the client cannot spoof past the proxy


@pytest.mark.django_db(transaction=True)
def test_parallel_guesses_never_exceed_the_limit(limits, victim):
    """Attempts are counted before the password is checked, under a lock."""
    results: list[int] = []
    lock = threading.Lock()

    def guess():
        try:
            code = api_login("ada", "wrong").status_code
            with lock:
                results.append(code)
        finally:
            connection.close()

    threads = [threading.Thread(target=guess) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count(400) == 5, results  # five password checks, the rest refused
    assert results.count(429) == 7
