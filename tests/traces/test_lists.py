"""Trace and prompt lists: FilterSet filters, keyset pages in the API, bounded web pages."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.urls import reverse

from reflectlab.core.paginator import BoundedPaginator
from reflectlab.traces import selectors
from reflectlab.traces.models import Trace
from tests.factories import PromptFactory, TraceFactory


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


def make(project, n: int, **fields) -> list[Trace]:
    prompt = PromptFactory(project=project)
    return [TraceFactory(project=project, prompt=prompt, **fields) for _ in range(n)]


def walk(api, url: str) -> list[dict]:
    """Every row of a cursor-paginated list, following ``next``."""
    rows = []
    while url:
        response = api.get(url)
        assert response.status_code == 200, response.content
        body = response.json()
        assert "count" not in body  # keyset pages never COUNT the list
        rows += body["results"]
        url = body["next"]
    return rows


def test_api_trace_list_walks_every_trace_once_in_id_order_by_cursor(api, project):
    traces = make(project, 7)
    make(project, 2, final_correct=None)  # included too
    url = reverse("api-traces", args=[project.pk]) + "?page_size=3"
    rows = walk(api, url)
    ids = [r["id"] for r in rows]
    assert ids == sorted(ids) and len(ids) == len(set(ids)) == 9
    assert traces[0].pk == ids[0]


def test_api_trace_list_filters_through_the_filterset(api, project):
    right = make(project, 3, model_name="m/right")
    make(project, 2, model_name="m/other")
    Trace.objects.filter(pk=right[0].pk).update(final_correct=False, truncated=True)
    base = reverse("api-traces", args=[project.pk])
    assert {r["id"] for r in walk(api, f"{base}?model=m/right")} == {t.pk for t in right}
    assert [r["id"] for r in walk(api, f"{base}?final_correct=false&truncated=true")] == [
        right[0].pk
    ]
    assert walk(api, f"{base}?final_correct=false&model=m/other") == []


@pytest.mark.parametrize(
    "query", ["final_correct=maybe", "origin=nowhere", "state=x", "prompt=0", "prompt=abc"]
)
def test_api_trace_list_refuses_invalid_filters_instead_of_ignoring_them(api, project, query):
    make(project, 1)
    response = api.get(reverse("api-traces", args=[project.pk]) + f"?{query}")
    assert response.status_code == 400
    assert response.json()["error"]["fields"]


def test_api_prompt_list_pages_by_cursor(api, project):
    prompts = [PromptFactory(project=project) for _ in range(5)]
    rows = walk(api, reverse("api-prompts", args=[project.pk]) + "?page_size=2")
    assert [r["id"] for r in rows] == [p.pk for p in prompts]


def test_web_list_filters_with_the_same_filterset(logged_in, project):
    wrong = make(project, 2, model_name="m/a")
    make(project, 3, model_name="m/b")
    Trace.objects.filter(pk__in=[t.pk for t in wrong]).update(final_correct=False)
    response = logged_in.get(reverse("traces:list", args=[project.pk]) + "?final_correct=false")
    assert response.status_code == 200
    assert [t.pk for t in response.context["page"]] == [t.pk for t in wrong]
    bad = logged_in.get(reverse("traces:list", args=[project.pk]) + "?has_reflection=perhaps")
    assert bad.status_code == 400


def test_web_list_pages_stop_at_the_bound_and_say_so(logged_in, project, monkeypatch):
    monkeypatch.setattr(BoundedPaginator, "MAX_PAGES", 2)
    traces = make(project, 120)  # 3 pages of 50, but only 2 are reachable
    url = reverse("traces:list", args=[project.pk])
    response = logged_in.get(url + "?page=99")
    page = response.context["page"]
    assert page.paginator.capped and page.paginator.num_pages == 2 and page.number == 2
    assert [t.pk for t in page] == [t.pk for t in traces[50:100]]
    assert "over 100" in response.content.decode()
    small = BoundedPaginator(Trace.objects.filter(pk__in=[t.pk for t in traces[:7]]), 5)
    assert small.count == 7 and not small.capped and small.num_pages == 2


def test_model_names_are_distinct_sorted_and_follow_new_traces(project):
    make(project, 2, model_name="z/last")
    make(project, 1, model_name="a/first")
    make(project, 1, model_name="")
    TraceFactory(model_name="other/project")
    assert selectors.model_names(project=project) == ["a/first", "z/last"]
    make(project, 1, model_name="m/middle")  # an import or run adds a model
    assert selectors.model_names(project=project) == ["a/first", "m/middle", "z/last"]


def test_model_names_come_from_the_cache_until_a_trace_arrives(project, django_assert_num_queries):
    make(project, 1, model_name="a/one")
    selectors.model_names(project=project)
    with django_assert_num_queries(1):  # the newest id only
        assert selectors.model_names(project=project) == ["a/one"]
