"""Exports keep truncation apart from a wrong answer: ``outcome`` in meta_json (issue 14)."""

from __future__ import annotations

import json

import pytest

from tests.exports.factories import AnnotationFactory
from tests.exports.helpers import export_rows
from tests.traces.test_outcome import truncated_trace

pytestmark = pytest.mark.django_db


def test_meta_json_and_canonical_carry_the_outcome(project, run_export):
    trace = truncated_trace(project)
    AnnotationFactory(
        trace=trace,
        project=project,
        first_error_step=-1,
        verdict="incorrect",
        critique="Ran out of tokens after reaching 5.",
    )
    row = export_rows(run_export("critique"))[0]
    meta = json.loads(row["meta_json"])
    assert meta["outcome"] == "truncated_no_answer" and meta["answer_reached_step"] == 1
    record = export_rows(run_export("canonical"))[0]
    assert record["trace"]["outcome"] == "truncated_no_answer"
