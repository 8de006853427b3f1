from __future__ import annotations

import csv
import io
import json

import pytest
from django.contrib.staticfiles import finders
from django.urls import reverse

from reflectlab.dashboards.staticfiles import plotly_static_path
from tests.dashboards.conftest import ALPHA, BETA, make_trace
from tests.factories import MembershipFactory, UserFactory


def url(name, project, **kwargs):
    return reverse(f"dashboards:{name}", kwargs={"project_id": project.pk, **kwargs})


def figure(response, key):
    """The figure JSON of one chart, read back from its data block."""
    html = response.content.decode()
    marker = f'<script id="fig-{key}" type="application/json">'
    start = html.index(marker) + len(marker)
    return json.loads(html[start : html.index("</script>", start)])


def test_reflection_page_carries_figures_as_json_data_blocks(logged_in, known):
    response = logged_in.get(url("reflection", known.project))
    assert response.status_code == 200
    html = response.content.decode()
    assert f'src="/static/{plotly_static_path()}"' in html
    assert 'src="/static/js/charts.js"' in html
    # No inline executable script: every <script> has a src or is a JSON data block.
    for tag in html.split("<script")[1:]:
        opening = tag.split(">", 1)[0]
        assert "src=" in opening or 'type="application/json"' in opening, opening
    boxes = [t for t in figure(response, "reflection-steps")["data"] if t["type"] == "box"]
    assert [(b["name"], b["median"], b["mean"]) for b in boxes] == [
        ("alpha", [2], [2.333]),
        ("beta", [1], [9.0]),
    ]
    assert response.context["summary"]["traces"] == 5
    assert [m["label"] for m in response.context["models"]] == ["alpha", "beta"]


def test_figure_values_are_the_aggregates(logged_in, known):
    response = logged_in.get(url("reflection", known.project))
    transitions = {t["name"]: t["y"] for t in figure(response, "transitions")["data"]}
    # alpha: F→F, T→T, F→T once each; beta has no graded transition.
    assert transitions == {"T→T": [33.33], "F→T": [33.33], "T→F": [0.0], "F→F": [33.33]}
    kinds = {t["name"]: t["y"] for t in figure(response, "reflection-kinds")["data"]}
    assert kinds["confirmatory"] == [round(2 / 3, 3), 0.0]
    assert kinds["trailing"] == [0.0, 0.5]


def test_plotly_is_loaded_only_on_chart_pages(logged_in, known):
    response = logged_in.get(reverse("traces:list", args=[known.project.pk]))
    assert "plotly" not in response.content.decode()


def test_plotly_js_is_found_in_the_installed_package():
    path = plotly_static_path()
    assert path.startswith("vendor/plotly-") and path.endswith(".min.js")
    found = finders.find(path)
    assert found and found.endswith("package_data/plotly.min.js")
    assert finders.find("vendor/plotly.min.js") is None


def test_filters_apply_and_the_htmx_request_gets_the_partial(logged_in, known):
    response = logged_in.get(
        url("reflection", known.project), {"model": BETA}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="dashboard">')
    assert "<html" not in html
    assert response.context["summary"]["traces"] == 2


@pytest.mark.parametrize(
    "query",
    [
        {"model": "nope"},
        {"run": "999999"},
        {"run": "x"},
        {"date_from": "2026-13-01"},
        {"date_from": "2026-03-05", "date_to": "2026-03-01"},
    ],
)
def test_invalid_filters_are_refused(logged_in, known, query):
    response = logged_in.get(url("reflection", known.project), query)
    assert response.status_code == 400
    assert "not valid" in response.content.decode()
    assert "charts" not in response.context


def test_effort_page_shows_coverage_and_needs_a_reviewer(client, known):
    annotator = known.users["alice"]
    client.force_login(annotator)
    assert client.get(url("effort", known.project)).status_code == 403
    reflection = client.get(url("reflection", known.project))
    assert reflection.status_code == 200
    assert "Runs, annotation and hints" not in reflection.content.decode()  # no tab
    reviewer = UserFactory()
    MembershipFactory(project=known.project, user=reviewer, role="reviewer")
    client.force_login(reviewer)
    response = client.get(url("effort", known.project))
    assert response.status_code == 200
    assert response.context["coverage"] == {"traces": 5, "started": 2, "complete": 1, "overlap": 2}
    progress = figure(response, "annotation-progress")["data"]
    assert {t["name"]: t["x"] for t in progress}["submitted"] == [2, 0]


def read_csv(response):
    return list(csv.reader(io.StringIO(response.content.decode())))


def test_csv_download_has_the_chart_rows(logged_in, known):
    response = logged_in.get(url("reflection-csv", known.project, chart="accuracy"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    assert read_csv(response) == [
        ["model", "reflection_steps", "graded", "correct", "accuracy"],
        [ALPHA, "0", "1", "1", "1.0"],
        [ALPHA, "2", "1", "0", "0.0"],
        [ALPHA, "5-8", "1", "1", "1.0"],
        [BETA, "1", "1", "1", "1.0"],
    ]


def test_csv_download_follows_the_filters(logged_in, known):
    response = logged_in.get(
        url("effort-csv", known.project, chart="hint-success"), {"model": BETA}
    )
    assert read_csv(response) == [
        ["model", "branches", "correct", "parent_wrong", "fixed", "broken", "success_rate"]
    ]


def test_csv_of_an_unknown_chart_or_the_wrong_page_is_404(logged_in, known):
    assert logged_in.get(url("reflection-csv", known.project, chart="nope")).status_code == 404
    assert logged_in.get(url("reflection-csv", known.project, chart="hint-size")).status_code == 404


def test_csv_cells_that_look_like_formulas_are_defused(logged_in, project):
    make_trace(project, model_name="=HYPERLINK(1)", n_reflection_steps=1, final_correct=True)
    response = logged_in.get(url("reflection-csv", project, chart="reflection-steps"))
    assert read_csv(response)[1] == ["'=HYPERLINK(1)", "1", "1"]


def test_an_annotator_may_not_download_effort_csv(client, known):
    client.force_login(known.users["alice"])
    response = client.get(url("effort-csv", known.project, chart="annotation-progress"))
    assert response.status_code == 403


def test_the_project_nav_links_the_dashboards(logged_in, known):
    response = logged_in.get(reverse("traces:list", args=[known.project.pk]))
    assert url("reflection", known.project) in response.content.decode()
