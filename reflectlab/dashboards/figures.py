"""Plotly figures built from the selectors' aggregated rows.

Each builder takes rows (as the CSV download has them) and a palette that
gives every model one colour on every chart, and returns the figure as the
plain ``{"data": [...], "layout": {...}}`` dict that plotly.js draws. No
``plotly.graph_objects`` here: validating figure objects cost 0.3-0.5 s per
page view, and the dicts are what ``json_script`` and the API send anyway.
Nothing here touches the database.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from reflectlab.dashboards.selectors import REFLECTION_BINS

Figure = dict[str, Any]

# Okabe-Ito, readable by colour-blind readers; then Plotly's defaults.
COLOURS = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#CC79A7",
    "#56B4E9",
    "#D55E00",
    "#F0E442",
    "#000000",
    "#636EFA",
    "#EF553B",
    "#00CC96",
    "#AB63FA",
)
KIND_COLOURS = {
    "confirmatory": "#009E73",
    "corrective": "#D55E00",
    "pre_answer": "#56B4E9",
    "trailing": "#BBBBBB",
}
TRANSITION_COLOURS = {"T→T": "#009E73", "F→T": "#0072B2", "T→F": "#D55E00", "F→F": "#999999"}
STATE_COLOURS = {
    "draft": "#BBBBBB",
    "submitted": "#56B4E9",
    "accepted": "#009E73",
    "rejected": "#D55E00",
}


class Palette:
    """A colour and a short label per model (or annotator), stable across charts."""

    def __init__(self, names: Iterable[str]):
        self.names = sorted(set(names))
        self._colour = {n: COLOURS[i % len(COLOURS)] for i, n in enumerate(self.names)}
        short = [n.rsplit("/", 1)[-1] or n for n in self.names]
        clash = {s for s in short if short.count(s) > 1}
        self._label = {n: (n if s in clash else s) for n, s in zip(self.names, short, strict=True)}

    def colour(self, name: str) -> str:
        if name not in self._colour:
            self._colour[name] = COLOURS[len(self._colour) % len(COLOURS)]
        return self._colour[name]

    def label(self, name: str) -> str:
        return self._label.get(name) or name or "(no model)"


# The parts of plotly.py's "plotly_white" template the charts rely on (plotly.js
# has no named templates; plotly.py used to inline the whole template).
_GRID = "#EBF0F8"
_AXIS = {
    "gridcolor": _GRID,
    "linecolor": _GRID,
    "zerolinecolor": _GRID,
    "zerolinewidth": 2,
    "ticks": "",
    "automargin": True,
    "title": {"standoff": 15},
}
_WHITE = {
    "paper_bgcolor": "white",
    "plot_bgcolor": "white",
    "colorway": ["#636efa", "#EF553B", "#00cc96", "#ab63fa", "#FFA15A", "#19d3f3"],
    "hovermode": "closest",
    "hoverlabel": {"align": "left"},
}


def _figure(data: list[dict[str, Any]], layout: dict[str, Any]) -> Figure:
    return {"data": data, "layout": layout}


def laid_out(
    data: list[dict[str, Any]],
    *,
    x: str = "",
    y: str = "",
    height: int = 360,
    xaxis: dict[str, Any] | None = None,
    yaxis: dict[str, Any] | None = None,
    **kwargs: Any,
) -> Figure:
    layout = {
        **_WHITE,
        "height": height,
        "margin": {"l": 56, "r": 16, "t": 8, "b": 40},
        "font": {"family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", "size": 12},
        "legend": {"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0},
        "xaxis": {**_AXIS, **(xaxis or {}), "title": {**_AXIS["title"], "text": x}},
        "yaxis": {**_AXIS, **(yaxis or {}), "title": {**_AXIS["title"], "text": y}},
        **kwargs,
    }
    return _figure(data, layout)


def integer_step(top: float, *, ticks: int = 8) -> int:
    """A whole-number tick step (1, 2, 5, 10, 20, 50 …) giving at most ``ticks`` ticks up to ``top``."""
    magnitude = 1
    while True:
        for step in (magnitude, 2 * magnitude, 5 * magnitude):
            if top <= step * ticks:
                return step
        magnitude *= 10


def count_axis(top: float, **extra: Any) -> dict[str, Any]:
    """An axis of whole numbers (counts, step numbers): from zero, with integer ticks only.

    plotly.js autoranges line, marker and box traces to their data (a throughput
    of 23-40 traces drew an axis starting at 23) and picks 0.5 steps on short
    ranges (half a trace, half a reflection step); both are wrong for counts.
    """
    return {
        "rangemode": "tozero",
        "tick0": 0,
        "dtick": integer_step(top),
        "tickformat": "d",
        **extra,
    }


# A value axis of shares or means: from zero, so bar heights and gaps compare honestly.
FROM_ZERO: dict[str, Any] = {"rangemode": "tozero"}
# A categorical axis (models, bins, people). plotly.js guesses the type from the
# values, so bin labels "0", "1", "2" made a linear axis with 0.5 ticks that
# dropped the "3-4", "5-8" … bins; a model or user named "1.5" would do the same.
CATEGORY: dict[str, Any] = {"type": "category"}


def empty_figure(message: str = "No data for these filters.") -> Figure:
    figure = laid_out([], height=220, xaxis={"visible": False}, yaxis={"visible": False})
    figure["layout"]["annotations"] = [
        {
            "text": message,
            "showarrow": False,
            "font": {"size": 14, "color": "#6b7280"},
            "x": 0.5,
            "y": 0.5,
            "xref": "paper",
            "yref": "paper",
        }
    ]
    return figure


def plot_trace(kind: str, **attributes: Any) -> dict[str, Any]:
    """A plotly.js trace; ``marker_color=`` style keys nest as plotly.py's did."""
    trace: dict[str, Any] = {"type": kind}
    for key, value in attributes.items():
        if value is None:
            continue
        parent, _, child = key.partition("_")
        if child and parent in {"marker", "line"}:
            trace.setdefault(parent, {})[child] = value
        else:
            trace[key] = value
    return trace


def group_by(rows: list[dict[str, Any]], key: str) -> dict[str, list[dict[str, Any]]]:
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[row[key]].append(row)
    return dict(groups)


def _pct(part: float, whole: float) -> float | None:
    return round(100 * part / whole, 2) if whole else None


# --- reflection behaviour ------------------------------------------------------------------


def _quantile(histogram: list[tuple[int, int]], p: float) -> int:
    """Nearest-rank quantile of a sorted (value, count) histogram."""
    total = sum(c for _, c in histogram)
    rank = max(1, math.ceil(p * total))
    seen = 0
    for value, count in histogram:
        seen += count
        if seen >= rank:
            return value
    return histogram[-1][0]


def box_stats(histogram: list[tuple[int, int]]) -> dict[str, float]:
    """Tukey box statistics computed exactly from a histogram of integers."""
    q1, median, q3 = (_quantile(histogram, p) for p in (0.25, 0.5, 0.75))
    iqr = q3 - q1
    values = [v for v, _ in histogram]
    lower = min(v for v in values if v >= q1 - 1.5 * iqr)
    upper = max(v for v in values if v <= q3 + 1.5 * iqr)
    total = sum(c for _, c in histogram)
    mean = sum(v * c for v, c in histogram) / total
    return {
        "q1": q1,
        "median": median,
        "q3": q3,
        "lowerfence": lower,
        "upperfence": upper,
        "mean": round(mean, 3),
    }


def box_outliers(
    histogram: list[tuple[int, int]], stats: dict[str, float]
) -> list[tuple[int, int]]:
    """The histogram's (value, traces) beyond the whiskers, which a box drawn from
    precomputed statistics cannot show (plotly.js draws points only from samples)."""
    return sorted(
        (v, c) for v, c in histogram if c and not stats["lowerfence"] <= v <= stats["upperfence"]
    )


def reflection_steps(rows: list[dict[str, Any]], palette: Palette) -> Figure:
    """Boxes per model from the exact histogram (the database never ships one row per trace).

    Outliers travel as one point per distinct value, not per trace: its hover
    says how many traces sit there, and its size grows with them.
    """
    if not rows:
        return empty_figure()
    boxes: list[dict[str, Any]] = []
    points: list[dict[str, Any]] = []
    top = 0
    for model, group in group_by(rows, "model").items():
        histogram = sorted((r["reflection_steps"], r["traces"]) for r in group if r["traces"])
        if not histogram:
            continue
        stats = box_stats(histogram)
        label, colour = palette.label(model), palette.colour(model)
        top = max(top, histogram[-1][0])
        boxes.append(
            plot_trace(
                "box",
                name=label,
                x=[label],
                **{k: [v] for k, v in stats.items()},
                marker_color=colour,
                boxmean=True,
                legendgroup=label,
                hovertemplate=None,
            )
        )
        outliers = box_outliers(histogram, stats)
        if outliers:
            points.append(
                plot_trace(
                    "scatter",
                    name=label,
                    x=[label] * len(outliers),
                    y=[v for v, _ in outliers],
                    customdata=[c for _, c in outliers],
                    mode="markers",
                    marker={
                        "color": colour,
                        "symbol": "circle-open",
                        "size": [min(16, 6 + 2 * math.sqrt(c)) for _, c in outliers],
                    },
                    legendgroup=label,
                    hovertemplate="outlier: %{y} reflection steps in %{customdata} trace(s)"
                    "<extra>%{fullData.name}</extra>",
                )
            )
    return laid_out(
        boxes + points,
        y="reflection steps per trace",
        showlegend=False,
        xaxis=CATEGORY,
        yaxis=count_axis(top),
    )


def reflection_share(rows: list[dict[str, Any]], palette: Palette) -> Figure:
    if not rows:
        return empty_figure()
    data: list[dict[str, Any]] = []
    for model, group in group_by(rows, "model").items():
        total = sum(r["traces"] for r in group)
        data.append(
            plot_trace(
                "scatter",
                name=palette.label(model),
                x=[100 * (r["share_from"] + r["share_to"]) / 2 for r in group],
                y=[_pct(r["traces"], total) for r in group],
                customdata=[r["traces"] for r in group],
                mode="lines+markers",
                line={"color": palette.colour(model), "shape": "spline", "smoothing": 0.4},
                hovertemplate="%{x:.1f} %% of the thinking: %{y:.1f} %% of traces"
                " (%{customdata})<extra>%{fullData.name}</extra>",
            )
        )
    return laid_out(
        data,
        x="reflection share of the thinking (%)",
        y="% of the model's traces",
        xaxis={"range": [0, 100], "ticksuffix": " %"},
        yaxis=FROM_ZERO,
    )


def first_candidate_position(rows: list[dict[str, Any]], palette: Palette) -> Figure:
    if not rows:
        return empty_figure("No trace has a candidate answer inside its thinking.")
    data: list[dict[str, Any]] = []
    for model, group in group_by(rows, "model").items():
        total = sum(r["traces"] for r in group)
        data.append(
            plot_trace(
                "bar",
                name=palette.label(model),
                x=[
                    f"{round(100 * r['position_from'])}-{round(100 * r['position_to'])} %"
                    for r in group
                ],
                y=[_pct(r["traces"], total) for r in group],
                customdata=[r["traces"] for r in group],
                marker_color=palette.colour(model),
                hovertemplate="first answer at %{x}: %{y:.1f} %% (%{customdata})"
                "<extra>%{fullData.name}</extra>",
            )
        )
    categories = [f"{10 * i}-{10 * (i + 1)} %" for i in range(10)]
    return laid_out(
        data,
        x="position of the first candidate answer in the thinking",
        y="% of the model's traces",
        barmode="group",
        xaxis={**CATEGORY, "categoryorder": "array", "categoryarray": categories},
        yaxis=FROM_ZERO,
    )


def reflection_kinds(rows: list[dict[str, Any]], palette: Palette) -> Figure:
    """Reflections per trace, stacked by kind."""
    if not rows:
        return empty_figure("No reflections in this selection.")
    per_model: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    traces: dict[str, int] = {}
    for r in rows:
        per_model[r["model"]][r["kind"]] += r["reflections"]
        traces[r["model"]] = r["model_traces"]
    models = sorted(per_model)
    data: list[dict[str, Any]] = []
    for kind, colour in KIND_COLOURS.items():
        data.append(
            plot_trace(
                "bar",
                name=kind.replace("_", "-"),
                x=[palette.label(m) for m in models],
                y=[round(per_model[m][kind] / traces[m], 3) if traces[m] else 0 for m in models],
                customdata=[per_model[m][kind] for m in models],
                marker_color=colour,
                hovertemplate="%{y:.2f} per trace (%{customdata} in all)"
                "<extra>%{fullData.name}</extra>",
            )
        )
    return laid_out(
        data, y="reflections per trace", barmode="stack", xaxis=CATEGORY, yaxis=FROM_ZERO
    )


def transitions(rows: list[dict[str, Any]], palette: Palette) -> Figure:
    """Where confirmatory and corrective reflections take the answer (graded ones only)."""
    graded = [r for r in rows if r["transition"] in TRANSITION_COLOURS]
    if not graded:
        return empty_figure("No graded answer transitions in this selection.")
    per_model: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for r in graded:
        per_model[r["model"]][r["transition"]] += r["reflections"]
    models = sorted(per_model)
    data: list[dict[str, Any]] = []
    for transition, colour in TRANSITION_COLOURS.items():
        counts = [per_model[m][transition] for m in models]
        totals = [sum(per_model[m].values()) for m in models]
        data.append(
            plot_trace(
                "bar",
                name=transition,
                x=[palette.label(m) for m in models],
                y=[_pct(c, t) for c, t in zip(counts, totals, strict=True)],
                customdata=counts,
                text=[
                    f"{_pct(c, t):.0f}%" if c and t else ""
                    for c, t in zip(counts, totals, strict=True)
                ],
                textposition="inside",
                marker_color=colour,
                hovertemplate="%{y:.1f} %% (%{customdata})<extra>%{fullData.name}</extra>",
            )
        )
    return laid_out(
        data, y="% of graded transitions", barmode="stack", xaxis=CATEGORY, yaxis=FROM_ZERO
    )


def accuracy_by_reflections(rows: list[dict[str, Any]], palette: Palette) -> Figure:
    if not rows:
        return empty_figure("No graded traces in this selection.")
    data: list[dict[str, Any]] = []
    for model, group in group_by(rows, "model").items():
        data.append(
            plot_trace(
                "scatter",
                name=palette.label(model),
                x=[r["reflection_steps"] for r in group],
                y=[None if r["accuracy"] is None else 100 * r["accuracy"] for r in group],
                customdata=[[r["correct"], r["graded"]] for r in group],
                mode="lines+markers",
                marker={"size": [min(18, 5 + math.sqrt(r["graded"])) for r in group]},
                line={"color": palette.colour(model)},
                hovertemplate="%{x} reflection steps: %{y:.1f} %% right "
                "(%{customdata[0]}/%{customdata[1]})<extra>%{fullData.name}</extra>",
            )
        )
    return laid_out(
        data,
        x="reflection steps in the trace",
        y="accuracy (%)",
        xaxis={
            **CATEGORY,
            "categoryorder": "array",
            "categoryarray": [b[0] for b in REFLECTION_BINS],
        },
        yaxis={"range": [0, 105]},
    )
