"""Step-level judgements (issue 14): reasons, replacement, exit, reflection quality."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from reflectlab.annotations.models import Annotation
from reflectlab.annotations.services import annotation_submit
from reflectlab.annotations.validation import annotation_fields_validate
from tests.factories import TraceFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def trace(project):
    trace = TraceFactory(project=project)  # 3 steps, one reflection episode
    assert trace.analysis["episodes"] == [[2, 2]]
    return trace


def check(trace, **changes):
    return annotation_fields_validate(changes=changes, trace=trace, project=trace.project)


def test_good_judgements_pass_normalised(trace):
    clean = check(
        trace,
        step_labels={"1": -1},
        step_reasons={1: "  2 + 3 is 5  "},
        replacement_step="2 + 3 = 5.",
        replacement_alternatives=["  Adding gives 5. ", ""],
        flawed_process=True,
        exit_reason="",
        reflection_quality={"0": {"quality": "ineffective", "strategy_shift": True}},
    )
    assert clean["step_reasons"] == {"1": "2 + 3 is 5"}
    assert clean["replacement_alternatives"] == ["Adding gives 5."]
    assert clean["reflection_quality"] == {"0": {"quality": "ineffective", "strategy_shift": True}}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("step_reasons", {"0": "a reason on a step not labelled -1"}),
        ("step_reasons", {"9": "past the last step"}),
        ("step_reasons", {"1": 5}),
        ("step_reasons", ["x"]),
        ("replacement_step", "x" * 20_001),
        ("replacement_alternatives", ["a"] * 11),
        ("replacement_alternatives", [3]),
        ("flawed_process", "yes"),
        ("exit_reason", "bored"),
        ("reflection_quality", {"1": {"quality": "effective"}}),  # no episode 1
        ("reflection_quality", {"0": {"quality": "great"}}),
        ("reflection_quality", {"0": {"quality": "harmful", "strategy_shift": "no"}}),
        ("reflection_quality", {"0": {"quality": "harmful", "score": 3}}),
    ],
)
def test_bad_judgements_are_refused_with_a_message_on_the_field(trace, field, value):
    changes = {field: value}
    if field == "step_reasons":
        changes["step_labels"] = {"1": -1}
    with pytest.raises(ValidationError) as caught:
        check(trace, **changes)
    assert field in caught.value.message_dict


def test_an_exit_reason_submits_without_a_first_error(trace, user):
    annotation = Annotation.objects.create(
        project=trace.project, trace=trace, annotator=user, exit_reason="ambiguous_reference"
    )
    annotation = annotation_submit(annotation_id=annotation.pk, user=user)
    assert annotation.state == Annotation.State.SUBMITTED


def test_without_exit_reason_or_first_error_submit_is_refused(trace, user):
    annotation = Annotation.objects.create(project=trace.project, trace=trace, annotator=user)
    with pytest.raises(ValidationError):
        annotation_submit(annotation_id=annotation.pk, user=user)


def test_the_api_reads_and_writes_every_judgement(api, trace, user):
    created = api.post(reverse("api-annotations"), {"trace": trace.pk}, format="json").json()
    url = reverse("api-annotation", args=[created["id"]])
    body = {
        "version": created["version"],
        "step_labels": {"1": -1},
        "first_error_step": 1,
        "step_reasons": {"1": "wrong sum"},
        "replacement_step": "2 + 3 = 5.",
        "replacement_alternatives": ["Two plus three is five."],
        "flawed_process": True,
        "reflection_quality": {"0": {"quality": "effective", "strategy_shift": False}},
    }
    response = api.patch(url, body, format="json")
    assert response.status_code == 200, response.content
    data = response.json()
    for name in body:
        if name != "version":
            assert data[name] == body[name], name
    bad = api.patch(
        url,
        {"version": data["version"], "reflection_quality": {"0": {"quality": "meh"}}},
        format="json",
    )
    assert bad.status_code == 400 and "reflection_quality" in bad.content.decode()
    exit_ = api.patch(
        url, {"version": data["version"], "exit_reason": "bad_problem"}, format="json"
    )
    assert exit_.json()["exit_reason"] == "bad_problem"


def test_the_workspace_form_saves_judgements(logged_in, trace):
    response = logged_in.post(
        reverse("annotations:save", args=[trace.pk]),
        {
            "version": 1,
            "step_labels": '{"1": -1}',
            "step_reasons": '{"1": "wrong sum"}',
            "replacement_step": "2 + 3 = 5.",
            "replacement_alternatives": "Two plus three is five.\n---\nFive.",
            "flawed_process": "on",
            "reflection_quality": '{"0": {"quality": "harmful", "strategy_shift": true}}',
        },
        HTTP_ACCEPT="application/json",
    )
    assert response.status_code == 200, response.content
    state = response.json()["annotation"]
    assert state["replacement_alternatives"] == ["Two plus three is five.", "Five."]
    assert state["flawed_process"] is True
    assert state["step_reasons"] == {"1": "wrong sum"}
    assert state["reflection_quality"]["0"]["quality"] == "harmful"
    page = logged_in.get(reverse("traces:detail", args=[trace.pk])).content.decode()
    assert 'id="reflection-panel"' in page and "1 of 1</span> episodes judged" in page
