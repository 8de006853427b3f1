"""The judge dashboard's figures: plain plotly.js dicts drawn by static/js/charts.js.

Built with the dashboards' dict helpers, like every chart on the request path
(no ``plotly.graph_objects`` objects: they cost a third of a second a view).
"""

from __future__ import annotations

from typing import Any

from reflectlab.dashboards.figures import CATEGORY, count_axis, laid_out, plot_trace

PROCESSBENCH_BARS = [
    ("error_accuracy", "accuracy on erroneous samples", "#c0392b"),
    ("correct_accuracy", "accuracy on correct samples", "#27ae60"),
    ("f1", "F1 (harmonic mean)", "#2c3e50"),
]


def processbench_figure(scores: list[dict[str, Any]]) -> dict[str, Any]:
    """Error accuracy, correct accuracy and F1 (ProcessBench) per subset, in %."""
    subsets = [row["subset"] for row in scores]
    bars = []
    for key, label, colour in PROCESSBENCH_BARS:
        values = [None if row[key] is None else round(100 * row[key], 1) for row in scores]
        bars.append(
            plot_trace(
                "bar",
                name=label,
                x=subsets,
                y=values,
                marker={"color": colour},
                text=values,
                textposition="outside",
            )
        )
    return laid_out(
        bars,
        y="%",
        barmode="group",
        xaxis=CATEGORY,
        yaxis={"range": [0, 110]},
        legend={"orientation": "h", "y": -0.2},
    )


def outcomes_figure(outcomes: dict[str, int]) -> dict[str, Any]:
    labels = [k for k in ("accepted", "changed", "ignored", "hidden") if outcomes.get(k)]
    bar = plot_trace("bar", x=labels, y=[outcomes[k] for k in labels], marker={"color": "#34495e"})
    top = max((outcomes[k] for k in labels), default=0)
    return laid_out([bar], y="suggestions", height=300, xaxis=CATEGORY, yaxis=count_axis(top))
