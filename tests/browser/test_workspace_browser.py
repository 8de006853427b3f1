"""The workspace in a real browser: keyboard flow, regeneration, conflicts, hostile text."""

from __future__ import annotations

import io
import json
import os
import time
from pathlib import Path
from unittest import mock

import pytest
from django.urls import reverse

from reflectlab.annotations.models import Annotation
from reflectlab.prompts.services import import_stream
from reflectlab.providers import testing as model_server_replies
from reflectlab.traces.models import Trace
from tests.browser.fixtures import login
from tests.factories import TraceFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

RESPONSE = (
    "We need 2 + 3.\n\n2 + 3 = 6, so \\(x = 6\\).\n\n"
    "Wait, let me double-check: 3 + 2 = 6. Yes.\n\nSo the answer is \\boxed{6}.\n"
    "</think>\n\nThe answer is \\boxed{6}."
)


# A real worker process starts, then calls the model server: a bound, not a speed claim.
WORKER_TIMEOUT_MS = 60_000


def open_trace(page, live_server, trace):
    page.goto(f"{live_server.url}{reverse('traces:detail', args=[trace.pk])}")
    page.wait_for_selector("#trace-steps .step.current")


def wait_saved(page):
    page.wait_for_selector("#save-status.saved", timeout=10_000)


def test_full_keyboard_flow_from_open_to_submit(page, live_server, user, project, trap):
    project.error_categories = ["calculation", "logic"]
    project.save()
    first = TraceFactory(project=project, raw_response=RESPONSE)
    second = TraceFactory(project=project)
    login(page, live_server, user)
    open_trace(page, live_server, first)
    keys = []

    def press(key):
        keys.append(key)
        page.keyboard.press(key)

    press("1")  # step 0 good, move to 1
    press("e")  # step 1 is the first error (labelled -1)
    assert page.locator("#s1").get_attribute("class").count("first-error") == 1
    press("Shift+E")
    page.select_option("#error-category", "calculation")
    press("Escape")
    press("h")
    page.keyboard.type("Recompute 2 + 3.")
    press("Escape")
    press("c")
    page.keyboard.type("Adds wrong; the check repeats the error.")
    press("Escape")
    press("v")
    press("v")  # correct → incorrect
    press("?")
    assert page.locator("#shortcuts").is_visible()
    press("Escape")
    wait_saved(page)
    press("s")
    page.wait_for_url(f"**{reverse('traces:detail', args=[second.pk])}")

    annotation = Annotation.objects.get(trace=first, annotator=user)
    assert annotation.state == Annotation.State.SUBMITTED
    assert annotation.step_labels == {"0": 1, "1": -1}
    assert annotation.first_error_step == 1
    assert annotation.error_category == "calculation"
    assert annotation.hint == "Recompute 2 + 3." and annotation.hint_step == 1
    assert annotation.critique.startswith("Adds wrong")
    assert annotation.verdict == "incorrect"
    assert annotation.submitted_at is not None
    assert trap.hits() == 0 and not trap.dialogs
    print(f"\nkeystrokes besides typed text: {len(keys)} ({' '.join(keys)})")


@pytest.mark.worker
def test_hint_regenerate_shows_graded_branch_beside_original(
    page, live_server, user, project, model_config, celery_worker_process
):
    trace = TraceFactory(project=project, raw_response=RESPONSE)
    login(page, live_server, user)
    open_trace(page, live_server, trace)
    page.keyboard.press("j")
    page.keyboard.press("h")
    page.keyboard.type("Careful: 2 + 3 = 5.")
    page.keyboard.press("Escape")
    page.keyboard.press("r")
    branch = page.locator("#branches article.branch")
    branch.wait_for()
    # polled every second until the real worker finished: then graded steps
    page.wait_for_selector("#branches article.state-ready mark.hint", timeout=WORKER_TIMEOUT_MS)
    assert "final answer right" in branch.inner_text()
    page.wait_for_selector("#save-status:has-text('branch ready')", timeout=5_000)
    assert page.locator("#ws-columns.has-branches").count() == 1
    annotation = Annotation.objects.get(trace=trace, annotator=user)
    made = Trace.objects.get(parent=trace)
    assert annotation.branch_id == made.pk and annotation.hint_step == 1
    assert made.hint == "Careful: 2 + 3 = 5." and made.final_correct is True


def test_stale_save_shows_conflict_and_keeps_my_input(browser, live_server, user, project):
    trace = TraceFactory(project=project, raw_response=RESPONSE)
    a, b = browser.new_page(), browser.new_page()
    for p in (a, b):
        login(p, live_server, user)
        open_trace(p, live_server, trace)
    a.keyboard.press("1")
    wait_saved(a)
    b.keyboard.press("3")  # b still holds version 1: refused
    banner = b.locator("#conflict-banner")
    banner.wait_for(state="visible", timeout=10_000)
    assert "Someone saved this annotation first" in banner.inner_text()
    assert "lab-n" in b.locator("#s0").get_attribute("class")  # my input is still there
    assert Annotation.objects.get(trace=trace).step_labels == {"0": 1}
    b.click("[data-action=overwrite]")
    wait_saved(b)
    annotation = Annotation.objects.get(trace=trace)
    assert annotation.step_labels == {"0": -1} and annotation.version == 3
    a.close()
    b.close()


def hostile_corpus() -> list[dict]:
    big_line = "x" * 1_000_000
    many = "\n\n".join(f"Wait, step {i}: \\(a_{{{i}}}\\) <i>{i}</i>" for i in range(5000))
    lines = {
        "script": "<script>window.__pwned=1;alert(1)</script>\n\nWait, ok.\n</think>\n\\boxed{5}",
        "img": 'Hmm <img src=x onerror="window.__pwned=1">\n\n<svg onload="alert(1)">\n</think>5',
        "links": '<a href="javascript:window.__pwned=1">click</a>\n\n[x](javascript:alert(1))\n</think>',
        "katex": "Wait, \\(\\href{javascript:window.__pwned=1}{click}\\) and "
        "\\[\\url{javascript:alert(1)}\\] and $$\\htmlData{x=1}{y}$$ and \\(\\frac{1\n</think>",
        "textarea": "</textarea><script>window.__pwned=1</script>\n\n</details></section>\n</think>",
        "entities": "&lt;script&gt;window.__pwned=1&lt;/script&gt; &amp; &#x3C;b&#x3E;\n</think>",
        "rtl": "Wait, \u202eevil\u202c text \u2067isolate\u2069 مرحبا\n\nHmm.\n</think>",
        "huge-line": big_line + "\n</think>\\boxed{1}",
        "5000-steps": many + "\n</think>\\boxed{2}",
    }
    return [
        {"id": f"hostile-{k}", "question": f"Q <b>{k}</b>", "reference_answer": "5", "response": v}
        for k, v in lines.items()
    ]


@pytest.mark.slow
def test_hostile_traces_execute_nothing_and_stay_usable(page, live_server, user, project, trap):
    data = "\n".join(json.dumps(r) for r in hostile_corpus()).encode()
    report = import_stream(
        project=project, stream=io.BytesIO(data), kind="traces", file_format="jsonl"
    )
    assert report["written"] and not report["errors"], report
    csp_errors = []
    page.on(
        "console",
        lambda m: csp_errors.append(m.text) if "Content Security Policy" in m.text else None,
    )
    login(page, live_server, user)
    for trace in Trace.objects.filter(project=project).order_by("id"):
        started = time.monotonic()
        open_trace(page, live_server, trace)
        page.wait_for_load_state("load")
        page.keyboard.press("j")
        page.keyboard.press("j")
        steps = page.locator("#trace-steps .step").count()
        expected = min(2, steps - 1)
        assert page.locator("#trace-steps .step.current").get_attribute("data-i") == str(expected)
        page.mouse.wheel(0, 4000)
        page.wait_for_timeout(300)
        assert trap.hits() == 0, f"{trace.external_id} ran code"
        assert not trap.dialogs, f"{trace.external_id} opened {trap.dialogs}"
        assert page.locator("#trace-steps script, #trace-steps img, #trace-steps a").count() == 0
        print(f"\n{trace.external_id}: {steps} steps, {time.monotonic() - started:.2f}s")
    assert not csp_errors, csp_errors


REAL = Path(os.environ.get("REFLECTLAB_SHARED_DATA", Path(__file__).parents[3] / "shared" / "data"))
REAL_FILE = REAL / "traces" / "r1-distill-qwen-1.5b_gsm8k.jsonl"


SCRIPTED_CONTINUATION = (
    "So Raymond is 37 now. He had his son at 23, so the son is 37 - 23 = 14 years old: "
    "he was born 14 years ago.\n</think>\n\nRaymond is \\(31 + 6 = 37\\), so his son was born "
    "\\(37 - 23 = 14\\) years ago.\n\n\\[\n\\boxed{14}\n\\]"
)


@pytest.mark.worker
@pytest.mark.skipif(not REAL_FILE.exists(), reason=f"{REAL_FILE} absent (shared data)")
def test_screenshot_real_r1_trace(
    page, live_server, user, project, screenshots, model_config, celery_worker_process
):
    """Screenshots on a real wrong R1 trace (GSM8K #21: 31 - 6 instead of 31 + 6).

    A real worker regenerates; the model server's continuation is scripted; the README
    shows the page before regenerating.
    """
    project.name = "GSM8K · R1-Distill-Qwen-1.5B"
    project.guidelines = "Label every step up to the first error. Hints: one sentence, no answer."
    project.save()
    with REAL_FILE.open() as fh:
        line = fh.readlines()[21]
    import_stream(
        project=project, stream=io.BytesIO(line.encode()), kind="traces", file_format="jsonl"
    )
    trace = Trace.objects.get(project=project)
    login(page, live_server, user)
    open_trace(page, live_server, trace)
    page.keyboard.press("1")
    page.keyboard.press("1")
    page.keyboard.press("e")
    page.keyboard.press("h")
    page.keyboard.type(
        "Raymond was born before Samantha, so he is older than her: add the 6 years."
    )
    page.keyboard.press("Escape")
    page.keyboard.press("c")
    page.keyboard.type("Step 2 subtracts the age gap instead of adding it; every check repeats it.")
    page.keyboard.press("Escape")
    page.keyboard.press("v")
    page.keyboard.press("v")
    wait_saved(page)
    page.wait_for_timeout(2500)  # KaTeX, and the verdict toast fades
    page.screenshot(path=str(screenshots / "workspace-r1.png"))
    with mock.patch.object(model_server_replies, "CONTINUATION", SCRIPTED_CONTINUATION):
        page.keyboard.press("r")
        page.wait_for_selector("#branches article.state-ready", timeout=WORKER_TIMEOUT_MS)
    page.wait_for_timeout(800)
    page.screenshot(path=str(screenshots / "workspace-r1-branch.png"))
    page.keyboard.press("?")
    page.screenshot(path=str(screenshots / "workspace-shortcuts.png"))
    # The README's docs/screenshots/workspace.png is copied from var/screenshots by
    # hand after looking at it; a test never writes into the repository.
