"""The Token page in a real browser: a new key is shown once, tokens are listed by
their first characters, one is revoked with its own button."""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from reflectlab.core.models import ApiToken
from reflectlab.core.tokens import token_issue
from tests.browser.fixtures import SCREENSHOTS, login
from tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def authenticates(key: str) -> bool:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client.get("/api/v1/projects/").status_code == 200


def test_create_copy_and_revoke_one_token(browser, live_server):
    user = UserFactory()
    earlier = token_issue(user=user)  # say, a script's
    page = browser.new_context().new_page()
    login(page, live_server, user)
    page.goto(f"{live_server.url}{reverse('api-token-page')}")
    assert page.locator("table tbody tr").count() == 1

    page.click("button[value=create]")
    key = page.locator("pre.token-key").inner_text().strip()
    assert authenticates(key) and authenticates(earlier.key)
    assert page.locator("table tbody tr").count() == 2
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "api-tokens.png"), full_page=True)

    page.goto(f"{live_server.url}{reverse('api-token-page')}")  # shown once: a GET has no key
    assert page.locator("pre.token-key").count() == 0
    row = page.locator("table tbody tr", has_text=earlier.token.prefix)
    row.locator("button[value=revoke]").click()
    page.wait_for_selector("text=The token was revoked.")
    assert not authenticates(earlier.key) and authenticates(key)
    assert list(ApiToken.objects.filter(user=user).values_list("prefix", flat=True)) == [key[:6]]
