"""The admin's project form refuses a lexicon version too long for the stored
analyser version, shows why next to the field and keeps the stored lexicon."""

from __future__ import annotations

import pytest
from django.urls import reverse

from reflectlab.projects.models import Project
from tests.browser.fixtures import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_admin_refuses_a_too_long_lexicon_version(page, live_server, user, project, screenshots):
    user.is_staff = user.is_superuser = True
    user.save()
    Project.objects.filter(pk=project.pk).update(lexicon={"version": "acme-1"})
    login(page, live_server, user)
    page.goto(f"{live_server.url}{reverse('admin:projects_project_change', args=[project.pk])}")
    page.fill("textarea[name=lexicon]", '{"version": "%s"}' % ("v" * 30))
    page.click("input[name=_save]")
    page.wait_for_load_state()
    error = page.locator(".field-lexicon .errorlist")
    assert "at most 25 characters (30 given)" in error.inner_text()
    page.locator(".field-lexicon").scroll_into_view_if_needed()
    page.screenshot(path=str(screenshots / "admin-lexicon-version-too-long.png"))
    project.refresh_from_db()
    assert project.lexicon == {"version": "acme-1"}
