"""Every dashboard query on hand-made data, numbers asserted exactly."""

from __future__ import annotations

from datetime import date

import pytest

from reflectlab.dashboards import effort, selectors
from reflectlab.dashboards.selectors import Filters
from tests.dashboards.conftest import ALPHA, BETA

ALL = Filters()


def test_summary_counts_first_generation_ready_traces_of_the_project_only(known):
    assert selectors.summary(project=known.project, filters=ALL) == {
        "traces": 5,
        "models": 2,
        "graded": 4,
        "correct": 3,
        "reflecting": 4,
        "corrective": 1,
        "truncated": 1,
        "truncated_no_answer": 0,
        "truncated_reached": 0,
        "accuracy": 0.75,
        "reflecting_share": 0.8,
        "corrective_share": 0.2,
        "mean_reflection_steps": 5.0,
        "mean_reflection_share": 0.39,
    }


def test_models_overview_has_one_row_per_model(known):
    rows = selectors.models_overview(project=known.project, filters=ALL)
    assert [(r["model"], r["traces"], r["accuracy"], r["mean_reflection_steps"]) for r in rows] == [
        (ALPHA, 3, 0.6667, 2.333),
        (BETA, 2, 1.0, 9.0),
    ]
    assert rows[1]["reflecting_share"] == 1.0
    assert rows[0]["corrective_share"] == 0.3333


def test_reflection_steps_is_an_exact_histogram_per_model(known):
    rows = selectors.reflection_steps(project=known.project, filters=ALL)
    assert [(r["model"], r["reflection_steps"], r["traces"]) for r in rows] == [
        (ALPHA, 0, 1),
        (ALPHA, 2, 1),
        (ALPHA, 5, 1),
        (BETA, 1, 1),
        (BETA, 17, 1),
    ]


def test_reflection_share_falls_in_five_percent_bins(known):
    rows = selectors.reflection_share(project=known.project, filters=ALL)
    assert [(r["model"], r["share_from"], r["share_to"], r["traces"]) for r in rows] == [
        (ALPHA, 0.0, 0.05, 1),
        (ALPHA, 0.3, 0.35, 1),
        (ALPHA, 0.5, 0.55, 1),
        (BETA, 0.1, 0.15, 1),
        (BETA, 0.95, 1.0, 1),
    ]


def test_first_candidate_position_reads_the_stored_column(known):
    rows = selectors.first_candidate_position(project=known.project, filters=ALL)
    # b1 has no candidate (null) and b2 no analysis: both left out; 1.0 is the last decile.
    assert [(r["model"], r["position_from"], r["traces"]) for r in rows] == [
        (ALPHA, 0.0, 1),
        (ALPHA, 0.5, 1),
        (ALPHA, 0.9, 1),
    ]


def test_reflection_kinds_sum_the_reflection_columns_the_analysis_filled(known):
    rows = selectors.reflection_kinds(project=known.project, filters=ALL)
    got = {(r["model"], r["kind"], r["transition"]): r["reflections"] for r in rows}
    assert got == {
        (ALPHA, "confirmatory", "F→F"): 1,
        (ALPHA, "confirmatory", "T→T"): 1,
        (ALPHA, "corrective", "F→T"): 1,
        (ALPHA, "pre_answer", ""): 1,
        (BETA, "trailing", ""): 1,
    }
    assert {r["model"]: r["model_traces"] for r in rows} == {ALPHA: 3, BETA: 2}


def test_accuracy_is_binned_by_reflection_count(known):
    rows = selectors.accuracy_by_reflections(project=known.project, filters=ALL)
    assert [(r["model"], r["reflection_steps"], r["correct"], r["graded"]) for r in rows] == [
        (ALPHA, "0", 1, 1),
        (ALPHA, "2", 0, 1),
        (ALPHA, "5-8", 1, 1),
        (BETA, "1", 1, 1),
    ]
    assert [r["accuracy"] for r in rows] == [1.0, 0.0, 1.0, 1.0]


def test_run_throughput_counts_run_traces_per_minute(known):
    rows = effort.run_throughput(project=known.project, filters=ALL)
    assert rows == [
        {
            "time": "2026-03-02T10:00:00Z",
            "unit": "minute",
            "model": ALPHA,
            "traces": 1,
            "failed": 0,
            "completion_tokens": 0,
        },
        {
            "time": "2026-03-02T10:01:00Z",
            "unit": "minute",
            "model": ALPHA,
            "traces": 1,
            "failed": 0,
            "completion_tokens": 0,
        },
    ]


def test_annotation_progress_per_annotator_and_state(known):
    rows = effort.annotation_progress(project=known.project, filters=ALL)
    assert rows == [
        {"annotator": "alice", "state": "draft", "annotations": 1, "mean_seconds": 30.0},
        {"annotator": "alice", "state": "submitted", "annotations": 2, "mean_seconds": 90.0},
        {"annotator": "bob", "state": "accepted", "annotations": 1, "mean_seconds": 90.0},
    ]


def test_annotation_coverage_uses_the_project_overlap(known):
    assert effort.annotation_coverage(project=known.project, filters=ALL) == {
        "traces": 5,
        "started": 2,
        "complete": 1,
        "overlap": 2,
    }


def test_annotation_throughput_buckets_submissions(known):
    rows = effort.annotation_throughput(project=known.project, filters=ALL)
    assert [(r["time"], r["annotator"], r["submitted"], r["seconds"]) for r in rows] == [
        ("2026-03-02T11:15:00Z", "alice", 2, 180),
        ("2026-03-02T11:16:00Z", "bob", 1, 90),
    ]


def test_hint_success_counts_branches_that_fixed_a_wrong_parent(known):
    assert effort.hint_success(project=known.project, filters=ALL) == [
        {
            "model": ALPHA,
            "branches": 1,
            "correct": 1,
            "parent_wrong": 1,
            "fixed": 1,
            "broken": 0,
            "success_rate": 1.0,
        }
    ]


def test_hint_size_is_relative_to_the_parents_thinking(known):
    # 23 characters over 1000: 2.3 %, in the 2.0-2.5 % bin.
    assert effort.hint_size(project=known.project, filters=ALL) == [
        {"share_from": 0.02, "share_to": 0.025, "branches": 1, "correct": 1}
    ]


def test_agreement_uses_traces_with_two_done_annotations(known):
    rows = effort.agreement(project=known.project, filters=ALL)
    assert [r["pair"] for r in rows] == ["all annotators", "alice / bob"]
    assert rows[0] == {
        "pair": "all annotators",
        "items": 1,
        "first_error_exact": 1.0,
        "first_error_within1": 1.0,
        "step_alpha": None,
        "verdict_kappa": None,
    }


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (Filters(model=BETA), 2),
        (Filters(date_from=date(2026, 3, 3)), 1),
        (Filters(date_to=date(2026, 3, 2)), 4),
        (Filters(date_from=date(2026, 3, 4)), 0),
    ],
)
def test_filters_narrow_the_traces(known, filters, expected):
    assert selectors.summary(project=known.project, filters=filters)["traces"] == expected


def test_run_filter_keeps_the_runs_traces(known):
    filters = Filters(run=known.run.pk)
    assert selectors.summary(project=known.project, filters=filters)["traces"] == 2
    # the annotations of a1 and a2 only (a3's draft is off the run)
    rows = effort.annotation_progress(project=known.project, filters=filters)
    assert [(r["annotator"], r["state"], r["annotations"]) for r in rows] == [
        ("alice", "submitted", 2),
        ("bob", "accepted", 1),
    ]
    # the branch's parent a2 belongs to the run
    assert effort.hint_success(project=known.project, filters=filters)[0]["branches"] == 1


def test_an_empty_project_gives_empty_rows(project):
    for name in (
        "reflection_steps",
        "reflection_share",
        "first_candidate_position",
        "reflection_kinds",
        "accuracy_by_reflections",
        "run_throughput",
        "annotation_progress",
        "annotation_throughput",
        "hint_success",
        "hint_size",
        "agreement",
    ):
        module = selectors if hasattr(selectors, name) else effort
        assert getattr(module, name)(project=project, filters=ALL) == [], name
    assert selectors.summary(project=project, filters=ALL)["accuracy"] is None
