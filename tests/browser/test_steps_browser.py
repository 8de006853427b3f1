"""Issue 14 in a real browser: split/merge with labels following, reflection quality,
the replacement step. Screenshots go to var/screenshots/."""

from __future__ import annotations

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from reflectlab.annotations.models import Annotation, StepEdit
from tests.browser.fixtures import login
from tests.factories import TraceFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# The analysis flags the mid-paragraph "Wait a second" as a split point.
TEXT = (
    "We need 2 + 3.\n\n2 + 3 = 6. Wait a second, that is wrong. 2 + 3 = 5.\n\n"
    "Let me double-check: 3 + 2 = 5.\n\nSo the total is 5.\n</think>\n\nThe answer is \\boxed{5}."
)
WAIT = TEXT.index("Wait")


def open_trace(page, live_server, trace):
    page.goto(f"{live_server.url}{reverse('traces:detail', args=[trace.pk])}")
    page.wait_for_selector("#trace-steps .step.current")


def wait_saved(page):
    page.wait_for_selector("#save-status.saved", timeout=10_000)


def test_split_merge_and_undo_with_labels_following(page, live_server, user, project, screenshots):
    trace = TraceFactory(project=project, raw_response=TEXT)
    login(page, live_server, user)
    open_trace(page, live_server, trace)
    page.keyboard.press("1")  # step 0 good → step 1
    page.keyboard.press("3")  # step 1 bad → step 2
    wait_saved(page)
    page.screenshot(path=str(screenshots / "steps-before-split.png"))
    # One click on the ✂ offered at the flagged "Wait a second".
    page.click(f'#s1 button.split-at.strong[data-offset="{WAIT}"]')
    page.wait_for_selector("#s4")
    assert page.locator("#s2 .tx").inner_text().startswith("Wait a second")
    assert "k-reflection" in page.locator("#s2").get_attribute("class")
    # The bad label went to both halves.
    assert "lab-n" in page.locator("#s1").get_attribute("class")
    assert "lab-n" in page.locator("#s2").get_attribute("class")
    page.screenshot(path=str(screenshots / "steps-after-split.png"))
    annotation = Annotation.objects.get(trace=trace, annotator=user)
    assert annotation.step_labels == {"0": 1, "1": -1, "2": -1}

    # m merges step 0 (good) with step 1 (bad): the worse label stays.
    page.keyboard.press("k")
    page.keyboard.press("k")
    assert page.locator("#cur-step").inner_text() == "0"
    page.keyboard.press("m")
    expect(page.locator("#trace-steps .step")).to_have_count(4)
    assert "lab-n" in page.locator("#s0").get_attribute("class")
    annotation.refresh_from_db()
    assert annotation.step_labels == {"0": -1, "1": -1}

    # u undoes the merge, then the split: the analysis' four steps again.
    page.keyboard.press("Shift+U")
    expect(page.locator("#trace-steps .step")).to_have_count(5)
    page.keyboard.press("Shift+U")
    expect(page.locator("#trace-steps .step")).to_have_count(4)
    edit = StepEdit.objects.get(trace=trace)
    assert edit.splits == [] and edit.merges == []

    # x splits the current step at the sentence clicked: a click past the end of
    # step 1's text is in its last sentence, "2 + 3 = 5.".
    box = page.locator("#s1 .tx").bounding_box()
    page.click("#s1 .tx", position={"x": box["width"] - 10, "y": 8})
    page.keyboard.press("x")
    page.wait_for_selector("#s4")
    assert page.locator("#s2 .tx").inner_text().strip() == "2 + 3 = 5."
    assert "Wait a second, that is wrong." in page.locator("#s1 .tx").inner_text()


def test_reflection_quality_and_section_mode(page, live_server, user, project, screenshots):
    trace = TraceFactory(project=project, raw_response=TEXT)
    assert trace.analysis["episodes"] == [[1, 2]]
    login(page, live_server, user)
    open_trace(page, live_server, trace)
    page.keyboard.press("j")  # step 1, in the episode
    page.keyboard.press("q")  # effective
    page.keyboard.press("q")  # ineffective
    page.check("#rq-shift")
    page.check("#section-mode")
    page.keyboard.press("3")  # section mode: the whole episode (steps 1-2) is bad
    wait_saved(page)
    assert page.locator("#trace-steps .ep-episode").get_attribute("data-quality") == "ineffective"
    page.screenshot(path=str(screenshots / "steps-reflection-quality.png"))
    annotation = Annotation.objects.get(trace=trace, annotator=user)
    assert annotation.reflection_quality == {
        "0": {"quality": "ineffective", "strategy_shift": True}
    }
    assert annotation.step_labels == {"1": -1, "2": -1}


def test_replacement_step_reason_and_exit(page, live_server, user, project, screenshots):
    trace = TraceFactory(project=project, raw_response=TEXT)
    login(page, live_server, user)
    open_trace(page, live_server, trace)
    page.keyboard.press("j")
    page.keyboard.press("e")  # step 1 is the first error (-1)
    page.keyboard.press("w")  # why is it bad?
    page.keyboard.type("2 + 3 is 5, not 6.")
    page.keyboard.press("Escape")
    page.keyboard.press("w")  # again: the reason box already has it, focus it
    page.keyboard.press("Escape")
    page.fill("#replacement-step", "2 + 3 = 5.")
    page.fill("#replacement-alternatives", "Adding 3 to 2 gives 5.\n---\n3 + 2 = 5.")
    page.check("#flawed-process")
    wait_saved(page)
    page.screenshot(path=str(screenshots / "steps-replacement.png"), full_page=True)
    annotation = Annotation.objects.get(trace=trace, annotator=user)
    assert annotation.step_reasons == {"1": "2 + 3 is 5, not 6."}
    assert annotation.replacement_step == "2 + 3 = 5."
    assert annotation.replacement_alternatives == ["Adding 3 to 2 gives 5.", "3 + 2 = 5."]
    assert annotation.flawed_process is True
