"""Issue 16 in a real browser: a long trace's closed folds load their steps when
opened, and labelling, j/k, z and split work on the steps inside them.
Screenshots go to var/screenshots/."""

from __future__ import annotations

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from reflectlab.annotations.models import Annotation, StepEdit
from tests.browser.fixtures import login
from tests.factories import MembershipFactory, TraceFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

HOSTILE = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=1</script>'


def long_text(runs: int = 30) -> str:
    """150 steps: runs of four plain steps (folded, closed) between reflections."""
    parts = []
    for r in range(runs):
        parts += [f"Line {r}.{k}: {r} + {k} = {r + k}. Then we go on." for k in range(4)]
        parts.append(f"Wait, let me check {r} again. It holds.")
    parts[5] = f"Line 1.0 {HOSTILE} = 1. Then we go on."
    return "\n\n".join(parts) + "\n</think>\n\nThe answer is \\boxed{1}."


def wait_saved(page):
    page.wait_for_selector("#save-status.saved", timeout=10_000)


def labels(trace, user) -> dict:
    return Annotation.objects.get(trace=trace, annotator=user).step_labels


def test_label_a_step_inside_a_fold_loaded_on_demand(
    page, live_server, user, project, trap, screenshots
):
    trace = TraceFactory(project=project, raw_response=long_text())
    login(page, live_server, user)
    page.goto(f"{live_server.url}{reverse('traces:detail', args=[trace.pk])}")
    # Step 0 is current and lives in the first fold: it opened and loaded by itself.
    page.wait_for_selector("#s0.current:not(.placeholder)")
    fold = page.locator('details.fold[data-start="5"]')
    expect(fold).not_to_have_attribute("open", "")
    assert page.locator("#s5").get_attribute("class") == "step k-execution placeholder"
    page.screenshot(path=str(screenshots / "trace-long-folded.png"))

    # Open the fold: its steps arrive, escaped (the hostile text is text).
    fold.locator("summary").click()
    page.wait_for_selector("#s5:not(.placeholder)")
    assert HOSTILE in page.locator("#s5 .tx").inner_text()
    assert page.locator("#trace-steps .step").count() == 150
    # Label a step inside it with the keyboard, and the draft saves.
    page.click("#s6 .tx")
    assert page.locator("#cur-step").inner_text() == "6"
    page.keyboard.press("3")  # -1, then on to step 7
    assert "lab-n" in page.locator("#s6").get_attribute("class")
    assert page.locator("#cur-step").inner_text() == "7"
    wait_saved(page)
    assert labels(trace, user) == {"6": -1}
    page.screenshot(path=str(screenshots / "trace-long-fold-opened.png"))

    # j walks past the reflection into the next closed fold, which loads and takes it.
    for _ in range(3):
        page.keyboard.press("j")
    page.wait_for_selector("#s10.current:not(.placeholder)")
    expect(page.locator('details.fold[data-start="10"]')).to_have_attribute("open", "")
    page.keyboard.press("1")
    wait_saved(page)
    assert labels(trace, user) == {"6": -1, "10": 1}

    # A link to a step in a closed fold (a suggestion's "first error at step 21") opens it.
    page.evaluate("location.hash = '#s21'")
    page.wait_for_selector("#s21.current:not(.placeholder)")
    assert page.locator("#cur-step").inner_text() == "21"

    # z opens every fold: the missing steps come in one request.
    page.keyboard.press("z")
    expect(page.locator("#trace-steps .step.placeholder")).to_have_count(0)
    expect(page.locator("#trace-steps details.fold:not([open])")).to_have_count(0)
    assert "lab-n" in page.locator("#s6").get_attribute("class")
    assert trap.hits() == 0 and trap.dialogs == []

    # x splits a step inside a loaded fold at the sentence clicked; labels stay put.
    box = page.locator("#s16 .tx").bounding_box()
    page.click("#s16 .tx", position={"x": box["width"] - 5, "y": 8})
    page.keyboard.press("x")
    expect(page.locator("#trace-steps .step")).to_have_count(151)
    assert StepEdit.objects.get(trace=trace).splits
    assert labels(trace, user) == {"6": -1, "10": 1}
    try:
        page.wait_for_selector("#s16.current:not(.placeholder)", timeout=15_000)
    except Exception as exc:  # say what the page shows instead (a CI run timed out here)
        state = page.evaluate(
            """() => {
              const el = document.getElementById("s16");
              const fold = el && el.closest("details");
              return {
                cur: (document.getElementById("cur-step") || {}).textContent,
                s16: el && el.outerHTML.slice(0, 300),
                fold: fold && fold.outerHTML.slice(0, 400),
                placeholders: document.querySelectorAll("#trace-steps .placeholder").length,
                steps: document.querySelectorAll("#trace-steps .step").length,
                url: location.href,
              };
            }"""
        )
        raise AssertionError(f"the split step is not current after the reload: {state}") from exc
    assert page.locator("#s17 .tx").inner_text().strip() == "Then we go on."
    assert trap.hits() == 0


def test_reviewer_edits_a_label_inside_a_fold_loaded_on_demand(
    page, live_server, user, project, screenshots
):
    trace = TraceFactory(project=project, raw_response=long_text())
    author = UserFactory()
    MembershipFactory(project=project, user=author, role="annotator")
    annotation = Annotation.objects.create(
        project=project,
        trace=trace,
        annotator=author,
        state="submitted",
        first_error_step=4,
        step_labels={"4": -1},
    )
    login(page, live_server, user)  # the project's manager reviews
    page.goto(f"{live_server.url}{reverse('review:annotation', args=[annotation.pk])}")
    assert page.locator("#trace-steps .step").count() == 150
    assert page.locator("#trace-steps .step.placeholder").count() == 120
    page.click("#review-edit > summary")
    page.wait_for_selector("#s0.current:not(.placeholder)")  # the first fold loaded
    for _ in range(6):
        page.keyboard.press("j")  # past the first error (4) into the fold 5-8
    page.wait_for_selector("#s6.current:not(.placeholder)")
    page.keyboard.press("2")  # 0 okay
    assert "lab-z" in page.locator("#s6").get_attribute("class")
    assert "first-error" in page.locator("#s4").get_attribute("class")
    page.screenshot(path=str(screenshots / "review-long-fold-opened.png"))
    page.click("button[name=decision][value=edit]")
    page.wait_for_load_state()
    annotation.refresh_from_db()
    assert annotation.step_labels == {"4": -1, "6": 0}
