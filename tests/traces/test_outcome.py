"""Truncation is its own outcome: stored, backfilled, shown, filtered (issue 14)."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps as django_apps

from reflectlab.dashboards import selectors as dashboards
from reflectlab.providers.models import ModelConfig
from reflectlab.runs.models import Run
from reflectlab.traces.analysis import analysis_columns
from reflectlab.traces.models import Trace
from tests.factories import PromptFactory, TraceFactory

pytestmark = pytest.mark.django_db

# Cut by the token limit mid-check, after reaching the reference (5) at step 1.
TRUNCATED = "We need 2 + 3.\n\nSo 2 + 3 = 5.\n\nWait, let me double-check: 3 + 2 is"
WRONG = "We need 2 + 3.\n\n2 + 3 = 6.\n</think>\n\nThe answer is \\boxed{6}."


def truncated_trace(project, **kwargs):
    prompt = PromptFactory(project=project)
    columns = analysis_columns(response=TRUNCATED, reference="5", finish_reason="length")
    return Trace.objects.create(
        project=project,
        prompt=prompt,
        raw_response=TRUNCATED,
        finish_reason="length",
        **{**columns, **kwargs},
    )


def wrong_trace(project):
    prompt = PromptFactory(project=project)
    return Trace.objects.create(
        project=project,
        prompt=prompt,
        raw_response=WRONG,
        **analysis_columns(response=WRONG, reference="5"),
    )


def test_truncated_without_answer_is_not_wrong_and_says_where_it_got_the_answer(project):
    trace = truncated_trace(project)
    assert trace.final_correct is False  # what the queue always saw
    assert trace.outcome == "truncated_no_answer"
    assert trace.answer_reached_step == 1
    assert wrong_trace(project).outcome == "wrong"
    assert TraceFactory(project=project).outcome == "correct"


def test_imported_correctness_grades_the_outcome_without_a_reference():
    columns = analysis_columns(
        response="x\n</think>\n\nThe answer is \\boxed{7}.", known_final_correct=True
    )
    assert columns["final_correct"] is True and columns["outcome"] == "correct"


def test_backfill_fills_the_columns_from_stored_analyses(project):
    trace = truncated_trace(project)
    old = TraceFactory(project=project)
    # As stored before the columns: defaults, and an analysis without metrics.outcome.
    Trace.objects.filter(pk=trace.pk).update(outcome="ungraded", answer_reached_step=None)
    analysis = dict(old.analysis)
    analysis["metrics"] = {
        k: v for k, v in analysis["metrics"].items() if k not in ("outcome", "answer_reached_step")
    }
    Trace.objects.filter(pk=old.pk).update(analysis=analysis, outcome="ungraded")
    migration = importlib.import_module(
        "reflectlab.traces.migrations.0006_outcome_answer_reached_step"
    )
    migration.backfill(django_apps, None)
    trace.refresh_from_db()
    old.refresh_from_db()
    assert (trace.outcome, trace.answer_reached_step) == ("truncated_no_answer", 1)
    assert old.outcome == "correct"  # derived from final_answer + final_correct


def test_list_shows_and_filters_outcomes(logged_in, project):
    truncated = truncated_trace(project)
    wrong = wrong_trace(project)
    page = logged_in.get(f"/projects/{project.pk}/traces/").content.decode()
    assert "no answer (truncated)" in page and "answer reached at step 1" in page
    only = logged_in.get(f"/projects/{project.pk}/traces/?outcome=truncated_no_answer")
    assert list(only.context["page"].object_list) == [truncated]
    reached = logged_in.get(f"/projects/{project.pk}/traces/?answer_reached=false")
    assert list(reached.context["page"].object_list) == [wrong]
    assert logged_in.get(f"/projects/{project.pk}/traces/?outcome=nope").status_code == 400


def test_api_filters_and_returns_outcomes(api, project):
    truncated = truncated_trace(project)
    wrong_trace(project)
    url = f"/api/v1/projects/{project.pk}/traces/"
    rows = api.get(url, {"outcome": "truncated_no_answer"}).json()["results"]
    assert [r["id"] for r in rows] == [truncated.pk]
    assert rows[0]["outcome"] == "truncated_no_answer" and rows[0]["answer_reached_step"] == 1
    assert len(api.get(url, {"answer_reached": "true"}).json()["results"]) == 1
    assert api.get(url, {"outcome": "lost"}).status_code == 400


def test_run_filter_shows_only_that_runs_traces(logged_in, project):
    config = ModelConfig.objects.create(project=project, name="m", model="m")
    runs = [Run.objects.create(project=project, model_config=config) for _ in range(2)]
    mine, theirs = TraceFactory(project=project), TraceFactory(project=project)
    Trace.objects.filter(pk=mine.pk).update(run=runs[0], origin="run", sample_index=0)
    Trace.objects.filter(pk=theirs.pk).update(run=runs[1], origin="run", sample_index=0)
    response = logged_in.get(f"/projects/{project.pk}/traces/?run={runs[0].pk}")
    assert list(response.context["page"].object_list) == [mine]
    run_page = logged_in.get(f"/runs/{runs[0].pk}/").content.decode()
    assert f"traces/?run={runs[0].pk}" in run_page


def test_sort_is_validated_and_orders(logged_in, project):
    few = TraceFactory(project=project)
    many = TraceFactory(project=project)
    Trace.objects.filter(pk=many.pk).update(n_reflection_steps=9)
    response = logged_in.get(f"/projects/{project.pk}/traces/?sort=-n_reflection_steps")
    assert list(response.context["page"].object_list) == [many, few]
    assert logged_in.get(f"/projects/{project.pk}/traces/?sort=raw_response").status_code == 400


def test_search_in_responses(logged_in, project):
    wrong = wrong_trace(project)
    TraceFactory(project=project)
    response = logged_in.get(f"/projects/{project.pk}/traces/?q=boxed{{6}}&search_in=response")
    assert list(response.context["page"].object_list) == [wrong]


def test_dashboard_keeps_truncation_apart(project):
    truncated_trace(project)
    wrong_trace(project)
    summary = dashboards.summary(project=project, filters=dashboards.Filters())
    assert summary["truncated_no_answer"] == 1 and summary["truncated_reached"] == 1
