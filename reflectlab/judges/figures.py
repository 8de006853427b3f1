"""The judge dashboard's figures (Plotly), drawn by static/js/charts.js."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go

from reflectlab.dashboards.figures import to_json


def processbench_figure(scores: list[dict[str, Any]]) -> dict[str, Any]:
    """Error accuracy, correct accuracy and F1 (ProcessBench) per subset, in %."""
    subsets = [row["subset"] for row in scores]
    fig = go.Figure()
    for key, label, colour in [
        ("error_accuracy", "accuracy on erroneous samples", "#c0392b"),
        ("correct_accuracy", "accuracy on correct samples", "#27ae60"),
        ("f1", "F1 (harmonic mean)", "#2c3e50"),
    ]:
        values = [None if row[key] is None else round(100 * row[key], 1) for row in scores]
        fig.add_bar(name=label, x=subsets, y=values, marker_color=colour, text=values,
                    textposition="outside")  # fmt: skip
    fig.update_layout(
        template="plotly_white", height=360, barmode="group",
        yaxis={"title": "%", "range": [0, 110]}, margin={"l": 50, "r": 20, "t": 20, "b": 40},
        legend={"orientation": "h", "y": -0.2},
    )  # fmt: skip
    return to_json(fig)


def outcomes_figure(outcomes: dict[str, int]) -> dict[str, Any]:
    labels = [k for k in ("accepted", "changed", "ignored", "hidden") if outcomes.get(k)]
    fig = go.Figure(go.Bar(x=labels, y=[outcomes[k] for k in labels], marker_color="#34495e"))
    fig.update_layout(
        template="plotly_white", height=300, yaxis={"title": "suggestions"},
        margin={"l": 50, "r": 20, "t": 20, "b": 40},
    )  # fmt: skip
    return to_json(fig)
