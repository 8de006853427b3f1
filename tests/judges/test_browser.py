"""Model assistance in a real browser: a judge run against the scripted fake judge
server (real HTTP, the runs' engine) makes suggestions that the annotator accepts
with the keyboard; hint memory inserts with Alt+1; the judge dashboard draws."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from reflectlab.annotations.models import Annotation
from reflectlab.judges import memory, services
from reflectlab.judges.models import SuggestionOutcome
from reflectlab.prompts.processbench import processbench_import
from tests.browser.fixtures import login
from tests.factories import MembershipFactory, TraceFactory, UserFactory
from tests.judges.conftest import claim

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

FIXTURES = Path(__file__).parent / "fixtures"


def test_judge_suggestion_accepted_with_g_and_hint_memory_with_alt_1(
    page, live_server, project, user, make_judge, make_trace, script, trap, screenshots
):
    services.assist_settings_update(project=project, suggestion_mode="prefill")
    trace = make_trace("ws")
    script.answers["ws"] = [
        "Paragraph 1 claims 2 + 3 = 6.\n\n\\boxed{1}",
        "The earliest error is in paragraph 1.",
        "\\boxed{1}",
        "I am not sure.",
    ]
    # An accepted hint of the same prompt, for the hint memory.
    earlier = TraceFactory(project=project, prompt=trace.prompt, raw_response=trace.raw_response)
    Annotation.objects.create(
        project=project, trace=earlier, annotator=user, first_error_step=1, hint_step=1,
        hint="Add again: 2 + 3 is 5, not 6.", state="accepted",
    )  # fmt: skip
    memory.hint_memory_refresh(project=project)  # as accepting it in review does
    run = services.judge_run_create(
        judge=make_judge(samples_per_trace=4), user=user, trace_ids=[trace.pk], enqueue=False
    )
    services.judge_run_execute(run_id=run.pk)
    annotator = UserFactory()
    MembershipFactory(project=project, user=annotator, role="annotator")
    claim(project, annotator, trace)  # the queue hands it out (the earlier one is done)

    login(page, live_server, annotator)
    page.goto(f"{live_server.url}{reverse('traces:detail', args=[trace.pk])}")
    page.wait_for_selector("#assist-panel .suggestion.top")
    panel = page.locator("#assist-panel").inner_text()
    assert "First error at step 1" in panel and "75 %" in panel
    page.screenshot(path=str(screenshots / "workspace-suggestions.png"), full_page=False)

    page.keyboard.press("g")
    expect(page.locator("#first-error-input")).to_have_value("1")
    page.wait_for_selector("#assist-panel .suggestion.top")
    annotation = Annotation.objects.get(trace=trace, annotator=annotator)
    assert annotation.first_error_step == 1
    assert SuggestionOutcome.objects.get(annotation=annotation).outcome == "accepted"

    page.keyboard.press("h")  # the hint box: its memory loads beside it
    page.wait_for_selector("#hint-memory [data-index='1']")
    page.keyboard.press("Alt+1")
    assert page.input_value("#hint") == "Add again: 2 + 3 is 5, not 6."
    page.screenshot(path=str(screenshots / "workspace-hint-memory.png"), full_page=False)
    page.keyboard.press("Escape")
    page.wait_for_selector("#save-status.saved", timeout=10_000)
    with page.expect_navigation():
        page.keyboard.press("s")
    annotation.refresh_from_db()
    assert annotation.state == "submitted" and annotation.hint.startswith("Add again")
    outcomes = dict(
        SuggestionOutcome.objects.filter(annotation=annotation).values_list(
            "suggestion__source", "outcome"
        )
    )
    assert outcomes == {"judge": "accepted", "analyser": "ignored"}  # settled at submit
    assert trap.hits() == 0 and trap.dialogs == []


def test_judge_dashboard_draws_processbench_f1(
    page, live_server, project, user, make_judge, script, screenshots
):
    processbench_import(
        project=project, paths=[FIXTURES / "gsm8k_mini.json", FIXTURES / "math_mini.json"]
    )
    from tests.judges.test_evaluation import ANSWERS

    script.answers.update({tag: [answer] for tag, answer in ANSWERS.items()})
    run = services.judge_run_create(judge=make_judge(), user=user, enqueue=False)
    services.judge_run_execute(run_id=run.pk)
    login(page, live_server, user)
    page.goto(f"{live_server.url}{reverse('judges:dashboard', args=[project.pk])}?run={run.pk}")
    page.wait_for_selector("[data-figure=fig-pb] .main-svg")
    text = page.locator("main").inner_text()
    assert "0.556" in text  # the average F1, 5/9, as computed by hand in test_evaluation
    page.screenshot(path=str(screenshots / "judge-dashboard.png"), full_page=True)
