from __future__ import annotations

from django.urls import reverse
from rest_framework.test import APIClient

from reflectlab.core.tokens import token_issue
from reflectlab.dashboards.charts import CHARTS
from tests.dashboards.conftest import ALPHA, BETA


def stats_url(project):
    return reverse("api-stats", kwargs={"project_id": project.pk})


def test_stats_returns_every_chart_for_a_manager(api, known):
    response = api.get(stats_url(known.project))
    assert response.status_code == 200
    body = response.json()
    assert set(body["charts"]) == set(CHARTS)
    assert body["summary"]["traces"] == 5
    assert [m["model"] for m in body["models"]] == [ALPHA, BETA]
    assert body["charts"]["hint-success"]["rows"][0]["success_rate"] == 1.0
    assert body["charts"]["accuracy"]["columns"] == [
        "model",
        "reflection_steps",
        "graded",
        "correct",
        "accuracy",
    ]


def test_stats_are_scoped_to_what_the_role_may_see(known):
    client = APIClient()
    client.force_authenticate(known.users["alice"])  # an annotator
    body = client.get(stats_url(known.project)).json()
    assert set(body["charts"]) == {k for k, c in CHARTS.items() if c.page == "reflection"}
    response = client.get(stats_url(known.project), {"chart": "agreement"})
    assert response.status_code == 400
    assert response.json()["error"]["fields"]["chart"]


def test_stats_filter_and_pick_one_chart(api, known):
    body = api.get(stats_url(known.project), {"model": BETA, "chart": "reflection-steps"}).json()
    assert list(body["charts"]) == ["reflection-steps"]
    assert body["charts"]["reflection-steps"]["rows"] == [
        {"model": BETA, "reflection_steps": 1, "traces": 1},
        {"model": BETA, "reflection_steps": 17, "traces": 1},
    ]
    assert body["summary"]["traces"] == 2


def test_invalid_filters_get_the_api_error_body(api, known):
    response = api.get(stats_url(known.project), {"date_from": "yesterday", "model": "nope"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["status"] == 400
    assert set(error["fields"]) == {"date_from", "model"}


def test_outsiders_get_404_and_anonymous_401(known, make_user):
    client = APIClient()
    assert client.get(stats_url(known.project)).status_code in {401, 403}
    client.force_authenticate(make_user())
    response = client.get(stats_url(known.project))
    assert response.status_code == 404
    assert response.json()["error"]["detail"] == "Not found."


def test_token_auth_works(known, user):
    token = token_issue(user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert client.get(stats_url(known.project)).status_code == 200
