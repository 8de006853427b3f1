from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.fixtures import CHROMIUM, login

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is missing"),
]


def test_dashboard_draws_plotly_charts_under_the_csp(live_server, page, known, user):
    problems = []
    page.on("console", lambda m: m.type == "error" and problems.append(m.text))
    page.on("pageerror", lambda e: problems.append(str(e)))
    foreign = []
    page.on("request", lambda r: r.url.startswith(live_server.url) or foreign.append(r.url))
    login(page, live_server, user)
    page.goto(f"{live_server.url}/projects/{known.project.pk}/dashboards/")
    page.wait_for_selector("#chart-accuracy .main-svg")
    assert page.evaluate("typeof window.Plotly") == "object"
    assert page.locator(".chart .main-svg").count() >= 6
    assert page.locator("#chart-reflection-steps .boxlayer path.box").count() == 2
    # Filtering swaps the dashboard in with htmx and the new figures are drawn too.
    page.select_option("select[name=model]", "org/beta")
    # (no wait_for_function: it evaluates a string, which the CSP rightly refuses)
    expect(page.locator("#dashboard .stat b").first).to_have_text("2")
    page.wait_for_selector("#chart-reflection-steps .main-svg")
    assert page.locator("#chart-reflection-steps .boxlayer path.box").count() == 1
    assert "model=org%2Fbeta" in page.url
    assert not [p for p in problems if "favicon" not in p], problems
    assert not foreign, foreign
