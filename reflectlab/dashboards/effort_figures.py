"""Plotly figures for the runs, annotation and hint charts (see ``figures``)."""

from __future__ import annotations

from typing import Any

from reflectlab.dashboards.figures import (
    CATEGORY,
    STATE_COLOURS,
    Figure,
    Palette,
    count_axis,
    empty_figure,
    group_by,
    laid_out,
    plot_trace,
)
from reflectlab.dashboards.selectors import CALM_HINT_SHARE


def _stacked(rows: list[dict[str, Any]], key: str, value: str) -> dict[Any, int]:
    """The height of each stacked bar: ``value`` summed per ``key``."""
    totals: dict[Any, int] = {}
    for row in rows:
        totals[row[key]] = totals.get(row[key], 0) + row[value]
    return totals


# --- runs and annotation -------------------------------------------------------------------


def run_throughput(rows: list[dict[str, Any]], palette: Palette) -> Figure:
    if not rows:
        return empty_figure("No traces from runs in this selection.")
    unit = rows[0]["unit"]
    data: list[dict[str, Any]] = []
    for model, group in group_by(rows, "model").items():
        data.append(
            plot_trace(
                "scatter",
                name=palette.label(model),
                x=[r["time"] for r in group],
                y=[r["traces"] for r in group],
                mode="lines+markers",
                line={"color": palette.colour(model), "shape": "hv"},
            )
        )
    return laid_out(data, y=f"traces per {unit}", yaxis=count_axis(max(r["traces"] for r in rows)))


def annotation_progress(rows: list[dict[str, Any]], palette: Palette) -> Figure:
    if not rows:
        return empty_figure("No annotations yet.")
    annotators = sorted({r["annotator"] for r in rows})
    counts = {(r["annotator"], r["state"]): r["annotations"] for r in rows}
    data: list[dict[str, Any]] = []
    for state, colour in STATE_COLOURS.items():
        data.append(
            plot_trace(
                "bar",
                name=state,
                y=annotators,
                x=[counts.get((a, state), 0) for a in annotators],
                orientation="h",
                marker_color=colour,
            )
        )
    return laid_out(
        data,
        x="annotations",
        barmode="stack",
        height=max(220, 120 + 28 * len(annotators)),
        xaxis=count_axis(max(_stacked(rows, "annotator", "annotations").values())),
        yaxis={**CATEGORY, "autorange": "reversed"},
    )


def annotation_throughput(rows: list[dict[str, Any]], palette: Palette) -> Figure:
    if not rows:
        return empty_figure("No submitted annotations in this selection.")
    unit = rows[0]["unit"]
    people = Palette(r["annotator"] for r in rows)
    data: list[dict[str, Any]] = []
    for annotator, group in group_by(rows, "annotator").items():
        data.append(
            plot_trace(
                "bar",
                name=annotator,
                x=[r["time"] for r in group],
                y=[r["submitted"] for r in group],
                marker_color=people.colour(annotator),
            )
        )
    return laid_out(
        data,
        y=f"annotations submitted per {unit}",
        barmode="stack",
        yaxis=count_axis(max(_stacked(rows, "time", "submitted").values())),
    )


def hint_success(rows: list[dict[str, Any]], palette: Palette) -> Figure:
    if not rows:
        return empty_figure("No branches from hints yet.")
    data: list[dict[str, Any]] = []
    data.append(
        plot_trace(
            "bar",
            x=[palette.label(r["model"]) for r in rows],
            y=[None if r["success_rate"] is None else 100 * r["success_rate"] for r in rows],
            text=[f"{r['fixed']}/{r['parent_wrong']}" for r in rows],
            textposition="outside",
            marker_color=[palette.colour(r["model"]) for r in rows],
            hovertemplate="%{y:.1f} %% of wrong parents fixed (%{text})<extra></extra>",
        )
    )
    return laid_out(
        data,
        y="wrong parents fixed (%)",
        xaxis=CATEGORY,
        yaxis={"range": [0, 110]},
        showlegend=False,
    )


def hint_size(rows: list[dict[str, Any]], palette: Palette) -> Figure:
    if not rows:
        return empty_figure("No branches with a hint yet.")
    labels = [
        f"{100 * r['share_from']:.1f}-{100 * r['share_to']:.1f} %"
        if r["share_to"] is not None
        else f"≥ {100 * r['share_from']:.1f} %"
        for r in rows
    ]
    bar = plot_trace(
        "bar",
        x=[100 * (r["share_from"] + 0.0025) for r in rows],
        y=[r["branches"] for r in rows],
        width=0.45,
        customdata=[list(pair) for pair in zip(labels, [r["correct"] for r in rows], strict=True)],
        marker_color="#0072B2",
        hovertemplate="%{customdata[0]}: %{y} branches, %{customdata[1]} right<extra></extra>",
    )
    calm = 100 * CALM_HINT_SHARE
    return laid_out(
        [bar],
        shapes=[
            {
                "type": "line",
                "x0": calm,
                "x1": calm,
                "xref": "x",
                "y0": 0,
                "y1": 1,
                "yref": "paper",
                "line": {"dash": "dash", "color": "#D55E00"},
            }
        ],
        annotations=[
            {
                "text": "CALM 2.6 %",
                "x": calm,
                "xref": "x",
                "xanchor": "left",
                "y": 1,
                "yref": "paper",
                "yanchor": "top",
                "showarrow": False,
            }
        ],
        x="hint length / parent's thinking (%)",
        y="branches",
        showlegend=False,
        xaxis={"ticksuffix": " %", "rangemode": "tozero"},
        yaxis=count_axis(max(r["branches"] for r in rows)),
    )


AGREEMENT_SERIES = {
    "first_error_exact": ("first error, exact", "#0072B2"),
    "first_error_within1": ("first error, ±1 step", "#56B4E9"),
    "step_alpha": ("step labels, Krippendorff alpha", "#009E73"),
    "verdict_kappa": ("verdict, Cohen κ", "#E69F00"),
}


def agreement(rows: list[dict[str, Any]], palette: Palette) -> Figure:
    if not rows:
        return empty_figure("No trace has two submitted annotations yet.")
    data: list[dict[str, Any]] = []
    for key, (name, colour) in AGREEMENT_SERIES.items():
        data.append(
            plot_trace(
                "bar",
                name=name,
                x=[r["pair"] for r in rows],
                y=[r[key] for r in rows],
                customdata=[r["items"] for r in rows],
                marker_color=colour,
                hovertemplate="%{y:.2f} over %{customdata} shared traces"
                "<extra>%{fullData.name}</extra>",
            )
        )
    return laid_out(
        data, y="agreement", barmode="group", xaxis=CATEGORY, yaxis={"range": [-0.2, 1.05]}
    )
