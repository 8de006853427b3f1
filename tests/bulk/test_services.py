"""Bulk actions on trace selections (issue 14): services, selections, exports."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from reflectlab.bulk.services import ROLES, traces_bulk
from reflectlab.exports import services
from reflectlab.exports import views as export_views
from reflectlab.exports.models import Export
from reflectlab.review import queue
from reflectlab.review.models import QueueItem
from reflectlab.review.policy import project_policy
from reflectlab.traces.models import Trace
from reflectlab.traces.selection import (
    MAX_IDS,
    TraceSelection,
    clean_filters,
    filters_from_query,
    selection_parse,
)
from tests.exports.factories import AnnotationFactory
from tests.exports.helpers import jsonl_rows
from tests.factories import ProjectFactory, PromptFactory, TraceFactory


def roots(project, n, **fields):
    prompt = PromptFactory(project=project)
    return [TraceFactory(project=project, prompt=prompt, **fields) for _ in range(n)]


def pinned_ids(project) -> set[int]:
    return set(
        QueueItem.objects.filter(project=project, pin_order=0).values_list("trace_id", flat=True)
    )


def in_queue_ids(project) -> set[int]:
    return set(
        QueueItem.objects.filter(project=project, in_queue=True).values_list("trace_id", flat=True)
    )


# ----- selections ------------------------------------------------------------------


def test_selection_refuses_ids_of_another_project_naming_them(project):
    mine = roots(project, 2)
    theirs = TraceFactory(project=ProjectFactory())
    with pytest.raises(ValidationError) as caught:
        selection_parse(project=project, ids=[mine[0].pk, theirs.pk, 10**12])
    message = " ".join(caught.value.messages)
    assert str(theirs.pk) in message and str(10**12) in message
    assert "Nothing was changed" in message


@pytest.mark.parametrize(
    "ids",
    [[], ["x"], [0], [-3], [2**63], "12", [True], list(range(1, MAX_IDS + 2))],
)
def test_selection_refuses_bad_ids(project, ids):
    with pytest.raises(ValidationError):
        selection_parse(project=project, ids=ids)


def test_selection_needs_exactly_one_of_ids_and_filters(project):
    trace = TraceFactory(project=project)
    with pytest.raises(ValidationError):
        selection_parse(project=project)
    with pytest.raises(ValidationError):
        selection_parse(project=project, ids=[trace.pk], filters={})


@pytest.mark.parametrize(
    "filters",
    [{"nope": "1"}, {"final_correct": "maybe"}, {"run": "0"}, {"model": ["a", "b"]}, []],
)
def test_filters_are_validated_as_the_list_validates_them(filters):
    with pytest.raises(ValidationError):
        clean_filters(filters)


def test_filters_from_the_list_query_drop_page_sort_and_empty_values():
    query = "final_correct=false&model=&page=3&sort=-n_steps&q=boxed"
    assert filters_from_query(query) == {"final_correct": "false", "q": "boxed"}


def test_a_filter_that_matches_nothing_is_refused(project):
    roots(project, 2, model_name="m/a")
    with pytest.raises(ValidationError, match="No traces match"):
        selection_parse(project=project, filters={"model": "m/none"})


def test_filter_selection_never_reaches_another_project(project):
    roots(project, 1, model_name="m/shared")
    other = ProjectFactory()
    theirs = roots(other, 2, model_name="m/shared")
    selection = selection_parse(project=project, filters={"model": "m/shared"})
    assert not selection.traces().filter(pk__in=[t.pk for t in theirs]).exists()
    assert selection.traces().count() == 1


# ----- pin / unpin ----------------------------------------------------------------


def test_pin_by_ids_pins_roots_skips_branches_and_counts_already_pinned(project):
    a, b, c = roots(project, 3)
    branch = TraceFactory(project=project, prompt=a.prompt, parent=a, origin="regeneration")
    queue.queue_pin(project=project, trace_id=c.pk)
    selection = selection_parse(project=project, ids=[a.pk, b.pk, c.pk, branch.pk])
    result = traces_bulk(selection=selection, action="pin", user=None)
    assert pinned_ids(project) == {a.pk, b.pk, c.pk}
    assert (result.changed, result.unchanged) == (2, 1)
    assert result.message.startswith("Pinned 2 traces, 1 already pinned; 1 skipped: branches")
    unpin = traces_bulk(
        selection=selection_parse(project=project, ids=[a.pk]), action="unpin", user=None
    )
    assert unpin.message.startswith("Unpinned 1 trace")
    assert pinned_ids(project) == {b.pk, c.pk}


def test_pin_by_filter_acts_on_every_match_in_a_constant_number_of_queries(project):
    """Acting on the filter, not on a list of ids: 12 or 120 matches cost the same queries."""

    def pin_wrong(n: int) -> int:
        Trace.objects.filter(project=project).delete()
        wrong = roots(project, n, final_correct=False)
        roots(project, 3, final_correct=True)
        queue.queue_sync(project=project)
        selection = selection_parse(project=project, filters={"final_correct": "false"})
        with CaptureQueriesContext(connection) as captured:
            result = traces_bulk(selection=selection, action="pin", user=None)
        assert result.changed == n and pinned_ids(project) == {t.pk for t in wrong}
        return len(captured)

    assert pin_wrong(12) == pin_wrong(120)


def test_pin_says_when_pinned_traces_are_outside_the_queue(project):
    (outside,) = roots(project, 1, model_name="m/out")
    queue.queue_policy_set(project=project, policy={"models": ["m/in"]})
    selection = selection_parse(project=project, ids=[outside.pk])
    result = traces_bulk(selection=selection, action="pin", user=None)
    assert "outside the queue" in result.message


# ----- add to the queue -----------------------------------------------------------


def test_queue_adds_excluded_traces_counts_queued_ones_and_survives_a_rerank(project):
    inside = roots(project, 5, model_name="m/in")
    outside = roots(project, 2, model_name="m/out")
    queue.queue_policy_set(project=project, policy={"models": ["m/in"]})
    assert in_queue_ids(project) == {t.pk for t in inside}
    selection = selection_parse(project=project, ids=[t.pk for t in [*inside, *outside]])
    result = traces_bulk(selection=selection, action="queue", user=None)
    assert result.message == "Queued 2 traces, 5 already queued."
    assert in_queue_ids(project) == {t.pk for t in [*inside, *outside]}
    # A full re-rank (policy change, the periodic refresh) keeps what a manager added.
    queue.queue_policy_set(project=project, policy={"models": ["m/in"], "order": ["wrong_first"]})
    queue.queue_sync(project=project, full=True)
    assert in_queue_ids(project) == {t.pk for t in [*inside, *outside]}
    assert set(
        QueueItem.objects.filter(project=project, added=True).values_list("trace_id", flat=True)
    ) == {t.pk for t in outside}


def test_queue_skips_branches_and_traces_that_are_not_ready(project):
    (ready,) = roots(project, 1, model_name="m/out")
    (pending,) = roots(project, 1, model_name="m/out", state="pending")
    branch = TraceFactory(project=project, prompt=ready.prompt, parent=ready, origin="regeneration")
    queue.queue_policy_set(project=project, policy={"models": ["m/in"]})
    selection = selection_parse(project=project, ids=[ready.pk, pending.pk, branch.pk])
    result = traces_bulk(selection=selection, action="queue", user=None)
    assert result.changed == 1 and result.skipped == {
        queue.BRANCHES_SKIPPED: 1,
        queue.NOT_READY_SKIPPED: 1,
    }
    assert in_queue_ids(project) == {ready.pk}


def test_queue_creates_missing_items_with_the_policy_rank(project):
    traces = roots(project, 3, final_correct=False)
    QueueItem.objects.filter(project=project).delete()
    # Older than the newest item: the id watermark of queue_sync would not find them.
    (newest,) = roots(project, 1)
    queue.queue_sync(project=project)
    QueueItem.objects.filter(trace__in=traces).delete()
    selection = selection_parse(project=project, ids=[t.pk for t in traces])
    traces_bulk(selection=selection, action="queue", user=None)
    policy = project_policy(project)
    for trace in traces:
        item = QueueItem.objects.get(trace=trace)
        assert item.in_queue and item.rank == policy.rank(trace)
    assert newest.pk in in_queue_ids(project)


def test_bulk_roles_are_the_single_trace_doors_roles():
    assert ROLES["export"] == export_views.CREATE_ROLE
    assert ROLES["pin"] == ROLES["queue"] == "manager"


# ----- export the selection -------------------------------------------------------


@pytest.fixture
def annotated(project):
    traces = roots(project, 4)
    for trace in traces:
        AnnotationFactory(
            trace=trace, project=project, first_error_step=-1, verdict="correct", critique="ok"
        )
    return traces


def _export(selection, user, settings, tmp_path):
    settings.REFLECTLAB_EXPORTS_DIR = tmp_path / "exports"
    settings.REFLECTLAB_WORK_DIR = tmp_path / "work"
    result = traces_bulk(
        selection=selection,
        action="export",
        user=user,
        export={"kind": "canonical", "format": "jsonl", "filters": {}, "options": {}},
    )
    services.export_execute(export_id=result.export.pk)
    result.export.refresh_from_db()
    assert result.export.state == "succeeded", result.export.error
    return result, {row["trace"]["id"] for row in jsonl_rows(result.export.path)}


def test_export_of_chosen_ids_holds_only_those_traces(
    project, user, annotated, settings, tmp_path, django_capture_on_commit_callbacks
):
    chosen = annotated[1:3]
    with django_capture_on_commit_callbacks():
        selection = selection_parse(project=project, ids=[t.pk for t in chosen])
        result, exported = _export(selection, user, settings, tmp_path)
    assert exported == {t.pk for t in chosen}
    assert result.export.filters["trace_ids"] == sorted(t.pk for t in chosen)
    assert result.message == f"Export #{result.export.pk} of 2 selected traces started."


def test_export_of_a_filter_stores_the_filter_not_ids(
    project, user, annotated, settings, tmp_path, django_capture_on_commit_callbacks
):
    Trace.objects.filter(pk__in=[annotated[0].pk, annotated[3].pk]).update(model_name="m/pick")
    with django_capture_on_commit_callbacks():
        selection = selection_parse(project=project, filters={"model": "m/pick"})
        result, exported = _export(selection, user, settings, tmp_path)
    assert exported == {annotated[0].pk, annotated[3].pk}
    assert result.export.filters["traces"] == {"model": "m/pick"}
    assert "trace_ids" not in result.export.filters


@pytest.mark.parametrize(
    "filters", [{"trace_ids": []}, {"trace_ids": ["x"]}, {"traces": {"bogus": "1"}}]
)
def test_export_refuses_a_bad_selection_filter(project, user, filters):
    with pytest.raises(ValueError):
        services.export_create(
            project=project, user=user, kind="canonical", format="jsonl", filters=filters
        )


def test_selection_descriptions(project):
    traces = roots(project, 2, model_name="m/x")
    assert TraceSelection(project=project, ids=(traces[0].pk,)).describe() == "1 selected trace"
    assert (
        TraceSelection(project=project, filters={"model": "m/x"}).describe()
        == "all 2 traces matching model=m/x"
    )
    assert TraceSelection(project=project, filters={}).describe() == "all 2 traces of the project"


def test_an_export_naming_another_projects_traces_is_refused(project, user):
    (mine,) = roots(project, 1)
    theirs = TraceFactory(project=ProjectFactory())
    with pytest.raises(ValueError, match=str(theirs.pk)):
        services.export_create(
            project=project,
            user=user,
            kind="canonical",
            format="jsonl",
            filters={"trace_ids": [mine.pk, theirs.pk]},
        )
    assert not Export.objects.exists()
