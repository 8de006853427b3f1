"""The trace list's selection bar, its bulk views and API, and the page jump (issue 14)."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.test import APIClient

from reflectlab.exports.models import Export
from reflectlab.review.models import QueueItem
from reflectlab.traces.models import Trace
from tests.factories import MembershipFactory, ProjectFactory, PromptFactory, TraceFactory


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


def make(project, n, **fields):
    prompt = PromptFactory(project=project)
    return [TraceFactory(project=project, prompt=prompt, **fields) for _ in range(n)]


def said(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def pinned(project) -> set[int]:
    return set(
        QueueItem.objects.filter(project=project, pin_order=0).values_list("trace_id", flat=True)
    )


def member(project, role, client):
    user = MembershipFactory(project=project, role=role).user
    client.force_login(user)
    return client


# ----- the list ----------------------------------------------------------------------


def test_managers_get_every_bulk_action_reviewers_export_annotators_none(client, project):
    make(project, 3)
    url = reverse("traces:list", args=[project.pk])
    for role, present, absent in [
        ("manager", ["Pin", "Add to queue", "Export selection"], []),
        ("reviewer", ["Export selection", 'name="ids"'], ["Add to queue", ">Pin<"]),
        ("annotator", [], ['name="ids"', "selection-bar", "Export selection"]),
    ]:
        html = member(project, role, client).get(url).content.decode()
        for text in present:
            assert text in html, (role, text)
        for text in absent:
            assert text not in html, (role, text)


def queries(client, url) -> tuple[int, object]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
        count = len(captured)  # inside: the next request resets the query log
    return count, response


def test_the_list_adds_no_query_per_row_with_pins_shown(logged_in, project):
    url = reverse("traces:list", args=[project.pk])
    make(project, 3)
    logged_in.get(url)  # warm the session and caches
    few, _ = queries(logged_in, url)
    traces = make(project, 47)
    logged_in.post(
        reverse("traces:bulk-pin", args=[project.pk]),
        {"ids": [str(t.pk) for t in traces[:20]], "pinned": "1"},
    )
    logged_in.get(url)  # the model-name cache follows the new traces
    many, response = queries(logged_in, url)
    assert few == many
    assert response.content.decode().count('class="tag pinned"') == 20


@pytest.mark.parametrize(
    ("page", "expected"),
    [("abc", 1), ("-4", 1), ("0", 1), ("", 1), ("2.5", 1), ("٣", 1), ("3", 3), ("99", 3)],
)
def test_page_jump_garbage_is_page_one_and_out_of_range_the_last_page(
    logged_in, project, page, expected
):
    make(project, 120)  # three pages of 50
    url = reverse("traces:list", args=[project.pk])
    response = logged_in.get(url, {"page": page, "final_correct": "", "sort": "-id"})
    assert response.status_code == 200
    assert response.context["page"].number == expected


def test_page_jump_form_keeps_the_filters_and_sort(logged_in, project):
    make(project, 120, model_name="m/a")
    url = reverse("traces:list", args=[project.pk])
    html = logged_in.get(url, {"model": "m/a", "sort": "-n_steps", "page": "2"}).content.decode()
    jump = html[html.index('class="page-jump"') : html.index("</form>", html.index("page-jump"))]
    assert 'name="model" value="m/a"' in jump and 'name="sort" value="-n_steps"' in jump
    assert 'name="page"' in jump and 'value="2"' in jump
    huge = logged_in.get(url, {"page": "9" * 40})
    assert huge.status_code == 200 and huge.context["page"].number == 3


# ----- bulk views -----------------------------------------------------------------


def test_bulk_views_are_post_only(logged_in, project):
    for name in ("traces:bulk-pin", "traces:bulk-queue", "traces:bulk-export"):
        assert logged_in.get(reverse(name, args=[project.pk])).status_code == 405


def test_bulk_pin_pins_the_ticked_rows_and_returns_to_the_same_list_page(logged_in, project):
    traces = make(project, 4)
    query = "model=test%2Fmodel&sort=-id&page=1"
    response = logged_in.post(
        reverse("traces:bulk-pin", args=[project.pk]),
        {"ids": [traces[0].pk, traces[2].pk], "pinned": "1", "query": query},
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("traces:list", args=[project.pk]) + "?" + query
    assert said(response) == ["Pinned 2 traces."]
    assert pinned(project) == {traces[0].pk, traces[2].pk}


def test_bulk_pin_refuses_another_projects_ids_and_changes_nothing(logged_in, project):
    mine = make(project, 2)
    theirs = TraceFactory(project=ProjectFactory())
    response = logged_in.post(
        reverse("traces:bulk-pin", args=[project.pk]),
        {"ids": [mine[0].pk, theirs.pk], "pinned": "1"},
    )
    assert response.status_code == 302
    (message,) = said(response)
    assert str(theirs.pk) in message and "Nothing was changed" in message
    assert pinned(project) == set() and not QueueItem.objects.filter(trace=theirs).exists()


@pytest.mark.parametrize("data", [{"pinned": "1"}, {"ids": ["abc"], "pinned": "1"}])
def test_bulk_pin_without_a_valid_selection_is_a_clear_error(logged_in, project, data):
    make(project, 2)
    response = logged_in.post(reverse("traces:bulk-pin", args=[project.pk]), data)
    assert response.status_code == 302 and said(response)
    assert pinned(project) == set()


def test_bulk_queue_by_filter_acts_on_every_match_not_only_the_page(logged_in, project):
    wrong = make(project, 60, final_correct=False, model_name="m/out")
    make(project, 5, final_correct=True, model_name="m/out")
    project.queue_policy = {"models": ["m/in"]}
    project.save()
    response = logged_in.post(
        reverse("traces:bulk-queue", args=[project.pk]),
        {"scope": "filter", "query": "final_correct=false&page=1", "ids": [wrong[0].pk]},
    )
    assert said(response) == ["Queued 60 traces."]
    queued = QueueItem.objects.filter(project=project, in_queue=True)
    assert set(queued.values_list("trace_id", flat=True)) == {t.pk for t in wrong}
    logged_in.get(response["Location"])  # shows (and so uses up) the message
    again = logged_in.post(
        reverse("traces:bulk-queue", args=[project.pk]),
        {"scope": "filter", "query": "final_correct=false"},
    )
    assert said(again) == ["Queued 0 traces, 60 already queued."]


def test_bulk_queue_refuses_an_invalid_filter(logged_in, project):
    make(project, 2)
    response = logged_in.post(
        reverse("traces:bulk-queue", args=[project.pk]),
        {"scope": "filter", "query": "final_correct=perhaps"},
    )
    (message,) = said(response)
    assert "final_correct" in message
    assert not QueueItem.objects.filter(project=project, added=True).exists()


def test_bulk_export_shows_the_export_form_then_starts_it_and_lands_on_its_page(
    logged_in, project, django_capture_on_commit_callbacks
):
    traces = make(project, 3)
    url = reverse("traces:bulk-export", args=[project.pk])
    ids = [traces[0].pk, traces[1].pk]
    form = logged_in.post(url, {"ids": ids, "query": "sort=id"})
    assert form.status_code == 200 and not Export.objects.exists()
    html = form.content.decode()
    assert "2 selected traces" in html and 'name="kind"' in html and 'name="start"' in html
    with django_capture_on_commit_callbacks() as callbacks:
        response = logged_in.post(
            url,
            {
                "ids": ids,
                "start": "1",
                "kind": "canonical",
                "format": "jsonl",
                "hint_mode": "inline",
                "reasoning": "think_tags",
                "branch_filter": "correct",
                "train_ratio": "1",
                "accepted_only": "on",
            },
        )
    export = Export.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("exports:detail", args=[project.pk, export.pk])
    assert export.filters["trace_ids"] == sorted(ids) and export.kind == "canonical"
    assert len(callbacks) == 1  # the worker task, after commit
    assert said(response) == [f"Export #{export.pk} of 2 selected traces started."]


def test_bulk_export_with_an_invalid_export_form_is_a_400_that_keeps_the_selection(
    logged_in, project
):
    traces = make(project, 2)
    response = logged_in.post(
        reverse("traces:bulk-export", args=[project.pk]),
        {"ids": [traces[0].pk], "start": "1", "kind": "nonsense"},
    )
    assert response.status_code == 400 and not Export.objects.exists()
    assert f'name="ids" value="{traces[0].pk}"' in response.content.decode()


def test_reviewers_may_export_but_not_pin_or_queue(client, project):
    traces = make(project, 2)
    member(project, "reviewer", client)
    data = {"ids": [traces[0].pk], "pinned": "1"}
    assert client.post(reverse("traces:bulk-pin", args=[project.pk]), data).status_code == 403
    assert client.post(reverse("traces:bulk-queue", args=[project.pk]), data).status_code == 403
    assert client.post(reverse("traces:bulk-export", args=[project.pk]), data).status_code == 200
    assert pinned(project) == set()


def test_bulk_views_need_the_csrf_token(project, user):
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(user)
    (trace,) = make(project, 1)
    response = strict.post(
        reverse("traces:bulk-pin", args=[project.pk]), {"ids": [trace.pk], "pinned": "1"}
    )
    assert response.status_code == 403 and pinned(project) == set()


# ----- the API --------------------------------------------------------------------


def bulk_url(project) -> str:
    return reverse("api-traces-bulk", args=[project.pk])


def test_api_bulk_pins_by_ids_and_queues_by_filter(api, project):
    traces = make(project, 3, model_name="m/a")
    make(project, 2, model_name="m/b")
    response = api.post(bulk_url(project), {"action": "pin", "ids": [traces[0].pk]}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["message"] == "Pinned 1 trace." and response.json()["export"] is None
    assert pinned(project) == {traces[0].pk}
    queued = api.post(
        bulk_url(project), {"action": "queue", "filters": {"model": "m/a"}}, format="json"
    ).json()
    assert (queued["changed"], queued["unchanged"]) == (0, 3)  # the default policy admits all


def test_api_bulk_export_starts_an_export_of_the_filter(api, project):
    make(project, 2, model_name="m/a")
    response = api.post(
        bulk_url(project),
        {
            "action": "export",
            "filters": {"model": "m/a"},
            "export": {"kind": "canonical", "format": "jsonl"},
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    export = Export.objects.get(pk=response.json()["export"]["id"])
    assert export.filters["traces"] == {"model": "m/a"}


@pytest.mark.parametrize(
    "body",
    [
        {"action": "pin"},
        {"action": "pin", "ids": [1], "filters": {}},
        {"action": "pin", "ids": []},
        {"action": "pin", "filters": {"bogus": "1"}},
        {"action": "pin", "filters": {"final_correct": "maybe"}},
        {"action": "export", "ids": [1]},
        {"action": "explode", "ids": [1]},
    ],
)
def test_api_bulk_refuses_bad_requests_with_400(api, project, body):
    make(project, 1)
    response = api.post(bulk_url(project), body, format="json")
    assert response.status_code == 400, response.content
    assert pinned(project) == set()


def test_api_bulk_refuses_another_projects_ids_and_changes_nothing(api, project):
    (mine,) = make(project, 1)
    theirs = TraceFactory(project=ProjectFactory())
    response = api.post(
        bulk_url(project), {"action": "pin", "ids": [mine.pk, theirs.pk]}, format="json"
    )
    assert response.status_code == 400
    assert str(theirs.pk) in str(response.json())
    assert pinned(project) == set()


def test_api_bulk_checks_the_role_of_each_action(project):
    (trace,) = make(project, 1)
    reviewer = MembershipFactory(project=project, role="reviewer").user
    client = APIClient()
    client.force_authenticate(reviewer)
    pin = client.post(bulk_url(project), {"action": "pin", "ids": [trace.pk]}, format="json")
    assert pin.status_code == 403
    export = client.post(
        bulk_url(project),
        {"action": "export", "ids": [trace.pk], "export": {"kind": "canonical"}},
        format="json",
    )
    assert export.status_code == 200, export.content
    assert Trace.objects.count() == 1
