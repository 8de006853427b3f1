"""The dashboards' per-trace columns, filled at analysis time and by the backfill."""

from __future__ import annotations

import importlib

from django.apps import apps

from reflectlab.traces.analysis import REFLECTION_COUNT_COLUMNS, analysis_columns, chart_columns
from reflectlab.traces.models import Trace
from tests.factories import TraceFactory

backfill = importlib.import_module("reflectlab.traces.migrations.0005_backfill_chart_columns")

RESPONSE = (
    "Compute 2 + 2. So the answer is \\boxed{5}.\n\n"
    "Wait, let me check that again: 2 + 2 = 4.\n\n"
    "So the answer is \\boxed{4}.\n\n"
    "Hmm, let me verify once more. Yes, \\boxed{4}.\n</think>\n\nThe answer is \\boxed{4}."
)


def test_analysis_fills_the_chart_columns_from_its_own_result():
    columns = analysis_columns(response=RESPONSE, reference="4")
    data = columns["analysis"]
    assert columns["first_candidate_position"] == data["metrics"]["first_candidate_position"]
    expected = dict.fromkeys(REFLECTION_COUNT_COLUMNS.values(), 0)
    for r in data["reflections"]:
        expected[REFLECTION_COUNT_COLUMNS[(r["kind"], r["transition"] or "")]] += 1
    assert {k: columns[k] for k in expected} == expected
    assert columns["n_corrective_ft"] == 1  # 5 (wrong) → 4 (right)
    assert columns["n_confirmatory_tt"] == 1  # 4 → 4


def test_chart_columns_survive_missing_or_malformed_analysis():
    zero = dict.fromkeys(REFLECTION_COUNT_COLUMNS.values(), 0)
    for data in (None, {}, {"metrics": "x", "reflections": "y"}, {"reflections": [1, None, {}]}):
        assert chart_columns(data) == {"first_candidate_position": None, **zero}
    assert (
        chart_columns({"metrics": {"first_candidate_position": True}})["first_candidate_position"]
        is None
    )
    unknown = chart_columns({"reflections": [{"kind": "pre_answer", "transition": "T→T"}]})
    assert unknown["n_pre_answer"] == 1


def test_the_backfill_computes_what_the_analysis_computes():
    samples = [
        analysis_columns(response=RESPONSE, reference="4")["analysis"],
        analysis_columns(response=RESPONSE)["analysis"],
        {"metrics": {"first_candidate_position": 0.25}, "reflections": [{"kind": "trailing"}]},
        None,
    ]
    for data in samples:
        assert backfill.columns(data) == chart_columns(data)


def test_the_backfill_migration_fills_existing_traces(db):
    data = analysis_columns(response=RESPONSE, reference="4")["analysis"]
    trace = TraceFactory(analysis=data)
    Trace.objects.filter(pk=trace.pk).update(first_candidate_position=None, n_corrective_ft=0)
    backfill.backfill(apps, None)
    trace.refresh_from_db()
    assert trace.first_candidate_position == data["metrics"]["first_candidate_position"]
    assert trace.n_corrective_ft == 1
