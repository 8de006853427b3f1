"""One validator for annotation fields: bounded by the trace's steps and the project's lists."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from reflectlab.annotations.validation import annotation_fields_validate
from tests.factories import TraceFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def trace(project):
    trace = TraceFactory(project=project)
    assert trace.n_steps >= 2
    return trace


def check(trace, **changes):
    return annotation_fields_validate(changes=changes, trace=trace, project=trace.project)


def test_values_within_the_trace_and_project_pass_normalised(trace):
    project = trace.project
    last = trace.n_steps - 1
    clean = check(
        trace,
        step_labels={0: 1, str(last): -1},
        first_error_step=last,
        error_category=project.error_categories[0],
        violated_principles=project.principles[:1],
        verdict="incorrect",
        hint_step=0,
        hint="look again",
    )
    assert clean["step_labels"] == {"0": 1, str(last): -1}
    assert check(trace, first_error_step=-1, error_category="", verdict="") == {
        "first_error_step": -1,
        "error_category": "",
        "verdict": "",
    }


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("first_error_step", "n_steps"),
        ("first_error_step", -2),
        ("first_error_step", True),
        ("step_labels", {"n_steps": 1}),
        ("step_labels", {"0": 2}),
        ("step_labels", {"0": True}),
        ("step_labels", {"x": 1}),
        ("step_labels", [1]),
        ("hint_step", "n_steps"),
        ("error_category", "not a category of this project"),
        ("violated_principles", ["not a principle of this project"]),
        ("violated_principles", "a string"),
        ("verdict", "maybe"),
        ("critique", 5),
    ],
)
def test_out_of_range_values_are_refused_by_field(trace, field, value):
    if value == "n_steps":
        value = trace.n_steps
    elif isinstance(value, dict) and "n_steps" in value:
        value = {str(trace.n_steps): 1}
    with pytest.raises(ValidationError) as refused:
        check(trace, **{field: value})
    assert field in refused.value.message_dict


def test_fields_outside_the_allowed_ones_are_refused(trace):
    with pytest.raises(ValidationError, match="Not editable: state"):
        check(trace, state="accepted")
    with pytest.raises(ValidationError, match="hint_step"):
        annotation_fields_validate(
            changes={"hint_step": 0}, trace=trace, project=trace.project, allowed=("hint",)
        )
