"""Annotators split and merge steps; every annotation of the trace follows."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from reflectlab.annotations.models import Annotation, StepEdit
from reflectlab.annotations.services import annotation_save
from reflectlab.annotations.step_edits import step_edit_apply, trace_steps
from reflectlab.annotations.validation import annotation_fields_validate
from reflectlab.core.errors import Conflict
from tests.factories import MembershipFactory, TraceFactory, UserFactory

pytestmark = pytest.mark.django_db

# The analysis flags the mid-paragraph "Wait a second" as a split point (offset 27).
TEXT = (
    "We need 2 + 3.\n\n2 + 3 = 6. Wait a second, that is wrong. 2 + 3 = 5.\n\n"
    "Let me double-check: 3 + 2 = 5.\n\nSo the total is 5.\n</think>\n\nThe answer is \\boxed{5}."
)
WAIT = TEXT.index("Wait")


@pytest.fixture
def trace(project):
    trace = TraceFactory(project=project, raw_response=TEXT)
    assert trace.analysis["split_points"] == [WAIT]
    assert trace.n_steps == 4
    return trace


@pytest.fixture
def two_annotations(trace, user):
    other = UserFactory()
    MembershipFactory(project=trace.project, user=other, role="reviewer")
    mine = Annotation.objects.create(
        project=trace.project,
        trace=trace,
        annotator=user,
        step_labels={"0": 1, "1": -1, "2": 0, "3": 1},
        step_reasons={"1": "2 + 3 is not 6"},
        first_error_step=1,
        hint_step=1,
    )
    theirs = Annotation.objects.create(
        project=trace.project,
        trace=trace,
        annotator=other,
        step_labels={"1": 1, "2": -1},
        first_error_step=2,
    )
    return mine, theirs


def texts(trace):
    return [trace.step_text[s["start"] : s["end"]] for s in trace_steps(trace=trace)]


def test_split_at_the_flagged_wait_starts_a_reflection_and_labels_follow_for_everyone(
    trace, user, two_annotations
):
    mine, theirs = two_annotations
    edit, steps = step_edit_apply(trace_id=trace.pk, user=user, op="split", offset=WAIT)
    assert texts(trace)[1:3] == ["2 + 3 = 6.", "Wait a second, that is wrong. 2 + 3 = 5."]
    # The cue moved with its half: "2 + 3 = 6." is execution now, "Wait…" the reflection.
    assert (steps[1]["kind"], steps[2]["kind"], steps[2]["cue_start"]) == (
        "execution",
        "reflection",
        WAIT,
    )
    assert edit.author == user and edit.splits == [WAIT]
    trace.refresh_from_db()
    assert trace.analysis["split_points"] == [WAIT] and len(trace.analysis["steps"]) == 4
    mine.refresh_from_db()
    theirs.refresh_from_db()
    # The split step's label and reason go to both halves; later steps shift by one.
    assert mine.step_labels == {"0": 1, "1": -1, "2": -1, "3": 0, "4": 1}
    assert mine.step_reasons == {"1": "2 + 3 is not 6", "2": "2 + 3 is not 6"}
    assert (mine.first_error_step, mine.hint_step, mine.version) == (1, 1, 2)
    assert theirs.step_labels == {"1": 1, "2": 1, "3": -1}
    assert theirs.first_error_step == 3


def test_merge_keeps_the_worst_label_and_undo_restores_the_steps(trace, user, two_annotations):
    mine, _ = two_annotations
    steps = trace_steps(trace=trace)
    step_edit_apply(trace_id=trace.pk, user=user, op="merge", offset=steps[2]["start"])
    mine.refresh_from_db()
    assert len(trace_steps(trace=trace)) == 3
    assert mine.step_labels == {"0": 1, "1": -1, "2": 1}
    # Undo = the inverse edit; the stored edit is empty again.
    step_edit_apply(trace_id=trace.pk, user=user, op="split", offset=steps[2]["start"])
    edit = StepEdit.objects.get(trace=trace)
    assert edit.splits == [] and edit.merges == []
    assert texts(trace) == [trace.step_text[s["start"] : s["end"]] for s in steps]
    mine.refresh_from_db()
    assert mine.step_labels == {"0": 1, "1": -1, "2": -1, "3": 1}  # merged label on both


def test_an_open_page_of_another_annotator_gets_a_conflict_not_shifted_labels(
    trace, user, two_annotations
):
    _, theirs = two_annotations
    stale = theirs.version
    step_edit_apply(trace_id=trace.pk, user=user, op="split", offset=WAIT)
    with pytest.raises(Conflict):
        annotation_save(
            annotation_id=theirs.pk,
            user=theirs.annotator,
            version=stale,
            changes={"step_labels": {"1": 1, "2": -1}},
        )


def test_bad_offsets_are_refused_and_nothing_changes(trace, user, two_annotations):
    mine, _ = two_annotations
    for op, offset in [
        ("split", 0),
        ("split", 15),
        ("split", 10_000),
        ("merge", WAIT),
        ("merge", 0),
    ]:
        with pytest.raises(ValidationError):
            step_edit_apply(trace_id=trace.pk, user=user, op=op, offset=offset)
    mine.refresh_from_db()
    assert mine.version == 1
    assert not StepEdit.objects.filter(trace=trace).exclude(splits=[], merges=[]).exists()


def test_accepted_work_keeps_its_steps(trace, user, two_annotations):
    _, theirs = two_annotations
    Annotation.objects.filter(pk=theirs.pk).update(state=Annotation.State.ACCEPTED)
    with pytest.raises(ValidationError):
        step_edit_apply(trace_id=trace.pk, user=user, op="split", offset=WAIT)


def test_an_annotator_without_an_annotation_of_the_trace_may_not_edit_its_steps(trace):
    stranger = UserFactory()
    MembershipFactory(project=trace.project, user=stranger, role="annotator")
    with pytest.raises(PermissionDenied):
        step_edit_apply(trace_id=trace.pk, user=stranger, op="split", offset=WAIT)


def test_the_validator_bounds_steps_by_the_edited_steps(trace, user, two_annotations):
    def check(**changes):
        return annotation_fields_validate(changes=changes, trace=trace, project=trace.project)

    with pytest.raises(ValidationError):
        check(first_error_step=4)
    step_edit_apply(trace_id=trace.pk, user=user, op="split", offset=WAIT)
    assert check(first_error_step=4) == {"first_error_step": 4}


def test_the_workspace_offers_the_split_and_shows_edited_steps(logged_in, trace, two_annotations):
    url = reverse("traces:detail", args=[trace.pk])
    page = logged_in.get(url).content.decode()
    assert f'data-action="split" data-offset="{WAIT}"' in page
    response = logged_in.post(
        reverse("annotations:steps", args=[trace.pk]),
        {"op": "split", "offset": WAIT},
        HTTP_ACCEPT="application/json",
    )
    assert response.status_code == 200 and response.json()["steps"] == 5
    page = logged_in.get(url).content.decode()
    assert 'id="s4"' in page and "5 steps" in page
    bad = logged_in.post(
        reverse("annotations:steps", args=[trace.pk]),
        {"op": "merge", "offset": 1},
        HTTP_ACCEPT="application/json",
    )
    assert bad.status_code == 400


def test_the_api_edits_steps(api, trace, two_annotations):
    response = api.post(
        reverse("api-trace-steps-edit", args=[trace.pk]), {"op": "split", "offset": WAIT}
    )
    assert response.status_code == 200, response.content
    assert response.json()["splits"] == [WAIT] and len(response.json()["steps"]) == 5
    bad = api.post(reverse("api-trace-steps-edit", args=[trace.pk]), {"op": "merge", "offset": 3})
    assert bad.status_code == 400
