"""Figure dicts: value axes from zero, whole-number ticks on counts, box outliers shown."""

from __future__ import annotations

from datetime import datetime

import pytest

from reflectlab.dashboards import charts, effort_figures, figures
from reflectlab.judges import figures as judge_figures

PALETTE = figures.Palette(["org/qwen-1.5b", "org/qwq"])

# Shaped like R1-Distill-Qwen-1.5B on GSM8K: most traces reflect 0-2 times, a
# long tail reaches 14-15 reflection steps.
LONG_TAIL = {0: 300, 1: 100, 2: 60, 3: 10, 5: 3, 14: 2, 15: 1}


def steps_rows(model: str, histogram: dict[int, int]) -> list[dict]:
    return [{"model": model, "reflection_steps": k, "traces": n} for k, n in histogram.items()]


def of_type(figure: dict, kind: str) -> list[dict]:
    return [t for t in figure["data"] if t["type"] == kind]


def assert_integer_axis(axis: dict, top: float) -> None:
    assert axis["rangemode"] == "tozero"
    assert axis["tickformat"] == "d"
    assert axis["tick0"] == 0
    assert isinstance(axis["dtick"], int)
    assert axis["dtick"] >= 1
    assert top / axis["dtick"] <= 8  # a readable number of ticks up to the top value


def test_outliers_of_a_long_tail_are_points_with_their_trace_counts():
    figure = figures.reflection_steps(steps_rows("org/qwen-1.5b", LONG_TAIL), PALETTE)
    (box,) = of_type(figure, "box")
    # nearest-rank quartiles over 476 traces: q1 = median = 0, q3 = 1, whisker at 1 + 1.5.
    assert (box["q1"], box["median"], box["q3"], box["upperfence"]) == ([0], [0], [1], [2])
    (points,) = of_type(figure, "scatter")
    assert points["y"] == [3, 5, 14, 15]
    assert points["customdata"] == [10, 3, 2, 1]
    assert points["x"] == ["qwen-1.5b"] * 4
    assert points["mode"] == "markers"
    assert points["name"] == box["name"]
    assert "%{customdata} trace" in points["hovertemplate"]
    assert_integer_axis(figure["layout"]["yaxis"], 15)


def test_outliers_below_the_lower_whisker_are_shown_too():
    histogram = {0: 1, 10: 20, 11: 30, 12: 20}
    figure = figures.reflection_steps(steps_rows("org/qwq", histogram), PALETTE)
    (box,) = of_type(figure, "box")
    assert box["lowerfence"] == [10]
    (points,) = of_type(figure, "scatter")
    assert (points["y"], points["customdata"]) == ([0], [1])


def test_a_model_without_outliers_gets_no_points():
    rows = steps_rows("org/qwq", {1: 5, 2: 5, 3: 5}) + steps_rows("org/qwen-1.5b", LONG_TAIL)
    figure = figures.reflection_steps(rows, PALETTE)
    assert [b["name"] for b in of_type(figure, "box")] == ["qwq", "qwen-1.5b"]
    assert [p["name"] for p in of_type(figure, "scatter")] == ["qwen-1.5b"]


def test_a_short_count_range_gets_whole_ticks():
    # 0-2 reflection steps: plotly.js alone ticks 0, 0.5, 1, 1.5, 2.
    figure = figures.reflection_steps(steps_rows("org/qwq", {0: 3, 1: 2, 2: 1}), PALETTE)
    assert figure["layout"]["yaxis"]["dtick"] == 1
    assert_integer_axis(figure["layout"]["yaxis"], 2)


@pytest.mark.parametrize(
    ("top", "step"),
    [(0, 1), (2, 1), (8, 1), (9, 2), (16, 2), (17, 5), (40, 5), (41, 10), (161, 50), (5000, 1000)],
)
def test_integer_step_is_a_round_whole_number(top, step):
    assert figures.integer_step(top) == step


T1, T2 = "2026-03-02T10:00:00+00:00", "2026-03-02T10:01:00+00:00"
COUNT_AXES = [
    # a throughput between 23 and 40 traces a minute: the axis must not start at 23
    (
        effort_figures.run_throughput,
        [
            {"time": T1, "unit": "minute", "model": "org/qwq", "traces": 23},
            {"time": T2, "unit": "minute", "model": "org/qwq", "traces": 40},
        ],
        "yaxis",
        40,
    ),
    (
        effort_figures.annotation_progress,
        [
            {"annotator": "alice", "state": "submitted", "annotations": 2, "mean_seconds": 1},
            {"annotator": "alice", "state": "accepted", "annotations": 1, "mean_seconds": 1},
            {"annotator": "bob", "state": "draft", "annotations": 1, "mean_seconds": 1},
        ],
        "xaxis",
        3,
    ),
    (
        effort_figures.annotation_throughput,
        [
            {"time": T1, "unit": "minute", "annotator": "alice", "submitted": 1, "seconds": 5},
            {"time": T1, "unit": "minute", "annotator": "bob", "submitted": 2, "seconds": 5},
        ],
        "yaxis",
        3,
    ),
    (
        effort_figures.hint_size,
        [{"share_from": 0.0, "share_to": 0.005, "branches": 3, "correct": 1}],
        "yaxis",
        3,
    ),
]


@pytest.mark.parametrize(("build", "rows", "axis", "top"), COUNT_AXES)
def test_count_axes_start_at_zero_with_whole_ticks(build, rows, axis, top):
    assert_integer_axis(build(rows, PALETTE)["layout"][axis], top)


def test_judge_outcome_counts_get_whole_ticks():
    figure = judge_figures.outcomes_figure({"accepted": 2, "changed": 1, "ignored": 0})
    assert_integer_axis(figure["layout"]["yaxis"], 2)


def test_accuracy_bins_are_categories_not_numbers():
    # "0", "1", "2" alone made plotly.js draw a linear axis (ticks 0.5, 1.5) and
    # drop the "3-4" … "17+" bins from the line.
    rows = [
        {"model": "org/qwq", "reflection_steps": b, "graded": 4, "correct": 2, "accuracy": 0.5}
        for b in ("0", "1", "2", "3-4", "17+")
    ]
    axis = figures.accuracy_by_reflections(rows, PALETTE)["layout"]["xaxis"]
    assert axis["type"] == "category"
    assert axis["categoryarray"] == ["0", "1", "2", "3-4", "5-8", "9-16", "17+"]


def axes(figure: dict) -> tuple[str, str]:
    """(value axis, category axis) of a figure."""
    horizontal = any(t.get("orientation") == "h" for t in figure["data"])
    return ("xaxis", "yaxis") if horizontal else ("yaxis", "xaxis")


def is_time(value: str) -> bool:
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return "T" in value


def value_axis(figure: dict) -> dict:
    return figure["layout"][axes(figure)[0]]


def test_every_dashboard_chart_has_a_value_axis_from_zero(known):
    """The audit, kept: a new chart whose values float off zero fails here."""
    palette = figures.Palette([known.traces["a1"].model_name, known.traces["b1"].model_name])
    cache = charts.RowCache(known.project, charts.selectors.Filters())
    for chart in charts.CHARTS.values():
        figure = chart.figure(cache.rows(chart), palette)
        assert figure["data"], chart.key
        axis = value_axis(figure)
        assert axis.get("rangemode") == "tozero" or axis["range"][0] <= 0, chart.key
        # Labels (models, bins, people) never left to plotly.js's type guess.
        name = axes(figure)[1]
        labels = [v for t in figure["data"] for v in t.get(name[0], [])]
        if any(isinstance(v, str) and not is_time(v) for v in labels):
            assert figure["layout"][name].get("type") == "category", chart.key
