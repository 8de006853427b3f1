"""Revise after reject in a real browser: the author sees why, edits, resubmits (issue 14)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from reflectlab.annotations.models import Annotation
from reflectlab.review import decisions
from tests.browser.fixtures import SCREENSHOTS, login
from tests.factories import MembershipFactory, ProjectFactory, TraceFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

RESPONSE = (
    "We need 2 + 3.\n\n2 + 3 = 6, so x = 6.\n\n"
    "Wait, let me double-check: 3 + 2 = 6. Yes.\n</think>\n\nThe answer is \\boxed{6}."
)
COMMENT = "Step 1 is the first error (2 + 3 is 5), not step 2."


def test_rejected_work_is_revised_and_resubmitted(browser, live_server):
    project = ProjectFactory(queue_policy={"gold_rate": 0})
    trace = TraceFactory(project=project, raw_response=RESPONSE)
    author, reviewer = UserFactory(), UserFactory()
    MembershipFactory(project=project, user=author, role="annotator")
    MembershipFactory(project=project, user=reviewer, role="reviewer")
    annotation = Annotation.objects.create(
        project=project,
        trace=trace,
        annotator=author,
        state="submitted",
        first_error_step=2,
        step_labels={"0": 1, "1": 1, "2": -1},
    )
    decisions.review_decide(
        annotation=annotation, reviewer=reviewer, decision="reject", comment=COMMENT
    )

    page = browser.new_context().new_page()
    login(page, live_server, author)
    page.goto(f"{live_server.url}{reverse('review:my-work', args=[project.pk])}")
    page.click("text=Revise")
    page.wait_for_selector("#trace-steps .step.current")
    banner = page.locator("#rejection-banner")
    assert COMMENT in banner.inner_text()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "revise-after-reject.png"), full_page=False)
    page.keyboard.press("j")  # to step 1
    page.keyboard.press("e")  # step 1 is the first error
    page.wait_for_selector("#save-status.saved", timeout=10_000)
    page.keyboard.press("s")
    page.wait_for_url(f"**{reverse('traces:list', args=[project.pk])}")

    annotation.refresh_from_db()
    assert annotation.state == Annotation.State.SUBMITTED
    assert annotation.first_error_step == 1

    review_page = browser.new_context().new_page()
    login(review_page, live_server, reviewer)
    review_page.goto(f"{live_server.url}{reverse('review:inbox', args=[project.pk])}")
    assert str(trace.pk) in review_page.locator("main").inner_text()
