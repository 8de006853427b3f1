"""A manager invites a new user in one browser; the invitee joins from another."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from playwright.sync_api import expect

from tests.browser.fixtures import CHROMIUM, login
from tests.factories import MembershipFactory, ProjectFactory, UserFactory

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is missing"),
]


def test_invitee_sets_a_password_and_lands_on_the_project(
    transactional_db, live_server, browser, screenshots
):
    manager = UserFactory(username="maria")
    project = ProjectFactory(name="GSM8K reflections")
    MembershipFactory(project=project, user=manager, role="manager")

    admin = browser.new_context(permissions=["clipboard-read", "clipboard-write"]).new_page()
    login(admin, live_server, manager)
    admin.goto(f"{live_server.url}/projects/{project.pk}/members/")
    admin.fill("input[name=username]", "nadia")
    admin.fill("input[name=email]", "nadia@example.org")
    admin.select_option("select[name=role]", "reviewer")
    admin.click("form:has(input[name=username]) button[type=submit]")
    field = admin.locator("#invite-link-url")
    expect(field).to_be_visible()
    url = field.input_value()
    assert url.startswith(f"{live_server.url}/invites/")
    expect(admin.locator("tr", has_text="nadia")).to_contain_text("invited, not joined yet")
    admin.click("button[data-copy]")
    expect(admin.locator("button[data-copy]")).to_have_text("Copied")
    assert admin.evaluate("navigator.clipboard.readText()") == url
    admin.screenshot(path=str(screenshots / "members-invite-link.png"), full_page=True)
    assert url in mail.outbox[0].body
    # Shown once: a reload no longer carries it.
    admin.reload()
    expect(admin.locator("#invite-link-url")).to_have_count(0)

    invitee = browser.new_context().new_page()
    invitee.goto(url)
    expect(invitee.locator("h1")).to_have_text("Choose your password")
    expect(invitee.locator("main")).to_contain_text("GSM8K reflections")
    invitee.fill("input[name=new_password1]", "short")
    invitee.fill("input[name=new_password2]", "short")
    invitee.click("button[type=submit]")
    expect(invitee.locator(".errorlist")).to_be_visible()  # Django's password validators
    invitee.fill("input[name=new_password1]", "a-long-enough-passphrase")
    invitee.fill("input[name=new_password2]", "a-long-enough-passphrase")
    invitee.screenshot(path=str(screenshots / "invite-set-password.png"), full_page=True)
    invitee.click("button[type=submit]")
    invitee.wait_for_url(f"{live_server.url}/projects/{project.pk}/")
    expect(invitee.locator("body")).to_contain_text("Welcome, nadia")
    expect(invitee.locator("body")).to_contain_text("Log out nadia")
    user = get_user_model().objects.get(username="nadia")
    assert user.is_active and user.check_password("a-long-enough-passphrase")

    # The link is spent: a third browser gets the error page, nothing changes.
    late = browser.new_context().new_page()
    late.goto(url)
    expect(late.locator("h1")).to_have_text("This invitation link is not valid")
    late.screenshot(path=str(screenshots / "invite-link-used.png"), full_page=True)
