"""The review page in a real browser: read-only workspace, Edit labels with the keyboard (issue 14)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from reflectlab.annotations.models import Annotation
from reflectlab.traces.analysis import analysis_columns
from reflectlab.traces.models import Trace
from tests.browser.fixtures import SCREENSHOTS, login
from tests.factories import MembershipFactory, ProjectFactory, PromptFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

RESPONSE = (
    "We need 2 + 3.\n\n2 + 3 = 6, so x = 6.\n\n"
    "Wait, let me double-check: 3 + 2 = 6. Yes.\n</think>\n\nThe answer is \\boxed{6}."
)
TRUNCATED = "We need 2 + 3.\n\nSo 2 + 3 = 5.\n\nWait, let me double-check: 3 + 2 is"


def test_reviewer_reads_then_edits_labels_with_the_keyboard(browser, live_server):
    project = ProjectFactory(
        queue_policy={"gold_rate": 0},
        error_categories=["arithmetic", "misread"],
        principles=["Checks each step"],
    )
    prompt = PromptFactory(project=project, reference_answer="5")
    trace = Trace.objects.create(
        project=project,
        prompt=prompt,
        raw_response=RESPONSE,
        **analysis_columns(response=RESPONSE, reference="5"),
    )
    cut_prompt = PromptFactory(project=project, reference_answer="5")
    Trace.objects.create(
        project=project,
        prompt=cut_prompt,
        raw_response=TRUNCATED,
        finish_reason="length",
        **analysis_columns(response=TRUNCATED, reference="5", finish_reason="length"),
    )
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
        error_category="misread",
    )

    page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
    login(page, live_server, reviewer)
    page.goto(f"{live_server.url}{reverse('review:annotation', args=[annotation.pk])}")
    assert page.locator("#trace-steps .step").count() == trace.n_steps
    assert page.locator("#trace-steps .step.first-error").count() == 1
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "review-page.png"), full_page=True)
    page.keyboard.press("1")  # read-only: keys do nothing before Edit
    assert page.locator("#id_step_labels").input_value() == '{"0": 1, "1": 1, "2": -1}'

    page.click("#review-edit > summary")
    page.wait_for_selector("#trace-steps .step.current")
    page.keyboard.press("j")  # step 1
    page.keyboard.press("e")  # step 1 is the first error
    page.select_option("select[name=error_category]", "arithmetic")
    page.check("input[name=violated_principles][value='Checks each step']")
    page.screenshot(path=str(SCREENSHOTS / "review-page-edit.png"), full_page=False)
    page.click("button[name=decision][value=edit]")
    page.wait_for_load_state()

    annotation.refresh_from_db()
    assert annotation.state == Annotation.State.ACCEPTED
    assert annotation.first_error_step == 1
    assert annotation.step_labels == {"0": 1, "1": -1, "2": -1}
    assert annotation.error_category == "arithmetic"
    assert annotation.violated_principles == ["Checks each step"]

    page.goto(f"{live_server.url}{reverse('traces:list', args=[project.pk])}")
    assert page.locator(".outcome-truncated_no_answer").count() == 1
    assert "answer reached at step 1" in page.inner_text("#trace-table")
    page.screenshot(path=str(SCREENSHOTS / "trace-list-outcomes.png"), full_page=False)
