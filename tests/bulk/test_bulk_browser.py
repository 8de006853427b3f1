"""The trace list's selection bar in a real browser: pin, queue, export the selection (issue 14)."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from reflectlab.exports import services as export_services
from reflectlab.exports.models import Export
from reflectlab.review.models import QueueItem
from tests.browser.fixtures import SCREENSHOTS, login
from tests.exports.factories import AnnotationFactory
from tests.exports.helpers import jsonl_rows
from tests.factories import (
    MembershipFactory,
    ProjectFactory,
    PromptFactory,
    TraceFactory,
    UserFactory,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_select_rows_pin_queue_and_export_the_selection(browser, live_server, settings, tmp_path):
    settings.REFLECTLAB_EXPORTS_DIR = tmp_path / "exports"
    settings.REFLECTLAB_WORK_DIR = tmp_path / "work"
    # The queue admits model m/in only: m/out traces need "Add to queue".
    project = ProjectFactory(queue_policy={"models": ["m/in"], "gold_rate": 0})
    manager = UserFactory()
    MembershipFactory(project=project, user=manager, role="manager")
    traces = []
    for i in range(6):
        prompt = PromptFactory(project=project, text=f"Problem {i}: what is 2 + {i}?")
        traces.append(
            TraceFactory(project=project, prompt=prompt, model_name="m/out" if i < 4 else "m/in")
        )
    for trace in traces:
        AnnotationFactory(
            trace=trace, project=project, first_error_step=-1, verdict="correct", critique="ok"
        )
    chosen = traces[-4:-1]  # rows 2, 3 (m/out) and 4 (m/in): the list shows newest first

    page = browser.new_context().new_page()
    login(page, live_server, manager)
    page.goto(f"{live_server.url}{reverse('traces:list', args=[project.pk])}?sort=-id")
    bar = page.locator("#selection-bar")
    assert page.locator("#selection-count").inner_text() == "none selected"
    assert bar.locator("button", has_text="Pin").first.is_disabled()

    # "Select all on this page" ticks every row; unticking one leaves it indeterminate.
    page.check("#select-page")
    assert page.locator("#selection-count").inner_text() == "6 selected"
    page.uncheck("#select-page")
    for trace in chosen:
        page.check(f"input[name=ids][value='{trace.pk}']")
    assert page.locator("#selection-count").inner_text() == "3 selected"
    assert page.evaluate("document.getElementById('select-page').indeterminate")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "trace-list-selection.png"), full_page=False)

    # Pin.
    bar.locator("button", has_text=re.compile(r"^Pin$")).click()
    page.wait_for_load_state()
    assert "Pinned 3 traces" in page.locator(".messages").inner_text()
    assert page.locator(".tag.pinned").count() == 3
    page.screenshot(path=str(SCREENSHOTS / "trace-list-pinned.png"), full_page=False)
    pinned = QueueItem.objects.filter(project=project, pin_order=0)
    assert set(pinned.values_list("trace_id", flat=True)) == {t.pk for t in chosen}

    # Queue: the two m/out traces join; the m/in one was already queued.
    for trace in chosen:
        page.check(f"input[name=ids][value='{trace.pk}']")
    bar.locator("button", has_text="Add to queue").click()
    page.wait_for_load_state()
    assert "Queued 2 traces, 1 already queued" in page.locator(".messages").inner_text()
    queued = QueueItem.objects.filter(project=project, in_queue=True)
    assert {t.pk for t in chosen} <= set(queued.values_list("trace_id", flat=True))

    # Export the selection: the export form, then the export's own page.
    for trace in chosen:
        page.check(f"input[name=ids][value='{trace.pk}']")
    bar.locator("button", has_text="Export selection").click()
    page.wait_for_load_state()
    assert "3 selected traces" in page.locator(".bulk-summary").inner_text()
    page.select_option("select[name=kind]", "canonical")
    page.select_option("select[name=format]", "jsonl")
    page.screenshot(path=str(SCREENSHOTS / "trace-list-export-selection.png"), full_page=False)
    page.click("button:has-text('Start export')")
    page.wait_for_url(re.compile(r".*/exports/\d+/$"))
    export = Export.objects.get()
    assert export.filters["trace_ids"] == sorted(t.pk for t in chosen)
    assert "Export #" in page.locator(".messages").inner_text()

    # A worker builds it (in-process here); the file holds the selection only.
    export_services.export_execute(export_id=export.pk)
    export.refresh_from_db()
    assert export.state == "succeeded", export.error
    assert {row["trace"]["id"] for row in jsonl_rows(export.path)} == {t.pk for t in chosen}
    page.reload()
    assert "Succeeded" in page.locator("main").inner_text()
    page.screenshot(path=str(SCREENSHOTS / "export-of-selection.png"), full_page=True)
