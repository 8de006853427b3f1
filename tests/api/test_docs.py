"""The self-hosted Swagger UI: no CDN, no inline script, renders under the CSP."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.browser.fixtures import CHROMIUM, login


def test_swagger_ui_page_has_no_inline_script_and_no_cdn(logged_in):
    response = logged_in.get(reverse("api-docs"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "cdn" not in html.lower() and "https://" not in html
    for tag in html.split("<script")[1:]:
        assert "src=" in tag.split(">", 1)[0], "inline script in the Swagger UI page"
    script = logged_in.get(reverse("api-docs") + "?script=")
    assert script["Content-Type"].startswith("application/javascript")
    assert b"SwaggerUIBundle" in script.content


def test_schema_describes_the_stats_endpoint(logged_in):
    response = logged_in.get(reverse("api-schema"), HTTP_ACCEPT="application/json")
    schema = response.json()
    assert "/api/v1/projects/{project_id}/stats" in schema["paths"]
    assert "Stats" in schema["components"]["schemas"]


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is missing")
def test_swagger_ui_renders_in_the_browser(live_server, page, user):
    problems, foreign = [], []
    page.on("console", lambda m: m.type == "error" and problems.append(m.text))
    page.on("request", lambda r: r.url.startswith(live_server.url) or foreign.append(r.url))
    login(page, live_server, user)
    page.goto(f"{live_server.url}/api/v1/docs/")
    page.wait_for_selector(".swagger-ui .info .title")
    page.wait_for_selector(".opblock-summary-path")
    assert "reflectlab API" in page.inner_text(".swagger-ui .info .title")
    assert not [p for p in problems if "Content Security Policy" in p], problems
    assert not foreign, foreign
