"""Two annotators in two browsers press "Start annotating" on a one-item queue."""

from __future__ import annotations

import pytest

from reflectlab.review.models import Claim
from tests.browser.fixtures import login
from tests.factories import MembershipFactory, ProjectFactory, TraceFactory, UserFactory


@pytest.mark.browser
def test_one_item_queue_goes_to_exactly_one_of_two_browsers(transactional_db, live_server, browser):
    project = ProjectFactory(queue_policy={"gold_rate": 0})
    trace = TraceFactory(project=project)
    users = [UserFactory(), UserFactory()]
    pages = []
    for user in users:
        MembershipFactory(project=project, user=user)
        page = browser.new_context().new_page()
        login(page, live_server, user)
        page.goto(f"{live_server.url}/projects/{project.pk}/queue/")
        pages.append(page)
    # Both press at once: submit both forms before waiting for either answer.
    for page in pages:
        page.evaluate("document.querySelector('form[action$=\"/queue/next\"]').requestSubmit()")
    for page in pages:
        page.wait_for_load_state()
        page.wait_for_function("!location.pathname.endsWith('/queue/')")
    urls = sorted(page.url for page in pages)
    bodies = [page.content() for page in pages]
    assert sum(f"/traces/{trace.pk}/" in url for url in urls) == 1, urls
    assert sum("Queue empty" in body for body in bodies) == 1
    assert Claim.objects.filter(trace=trace, state="active").count() == 1
