"""Plotly figures built from the selectors' aggregated rows.

Each builder takes rows (as the CSV download has them) and a palette that
gives every model one colour on every chart, and returns a
``plotly.graph_objects.Figure``. Nothing here touches the database.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

import orjson
import plotly.graph_objects as go

from reflectlab.dashboards.selectors import CALM_HINT_SHARE, REFLECTION_BINS

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


def to_json(fig: go.Figure) -> dict[str, Any]:
    """The figure as plain JSON data, for ``json_script`` and the API."""
    return orjson.loads(fig.to_json())


def _layout(fig: go.Figure, *, x: str = "", y: str = "", height: int = 360, **kwargs) -> go.Figure:
    fig.update_layout(
        template="plotly_white",
        height=height,
        margin={"l": 56, "r": 16, "t": 8, "b": 40},
        font={"family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", "size": 12},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0},
        xaxis_title=x,
        yaxis_title=y,
        **kwargs,
    )
    fig.update_xaxes(automargin=True)
    fig.update_yaxes(automargin=True)
    return fig


def _empty(message: str = "No data for these filters.") -> go.Figure:
    fig = go.Figure()
    fig.add_annotation(
        text=message, showarrow=False, font={"size": 14, "color": "#6b7280"}, x=0.5, y=0.5
    )
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return _layout(fig, height=220)


def _group(rows: list[dict[str, Any]], key: str) -> dict[str, list[dict[str, Any]]]:
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


def reflection_steps(rows: list[dict[str, Any]], palette: Palette) -> go.Figure:
    """Boxes per model from the exact histogram (the database never ships one row per trace)."""
    if not rows:
        return _empty()
    fig = go.Figure()
    for model, group in _group(rows, "model").items():
        stats = box_stats([(r["reflection_steps"], r["traces"]) for r in group])
        label = palette.label(model)
        fig.add_trace(
            go.Box(
                name=label,
                x=[label],
                **{k: [v] for k, v in stats.items()},
                marker_color=palette.colour(model),
                boxmean=True,
                hovertemplate=None,
            )
        )
    return _layout(fig, y="reflection steps per trace", showlegend=False)


def reflection_share(rows: list[dict[str, Any]], palette: Palette) -> go.Figure:
    if not rows:
        return _empty()
    fig = go.Figure()
    for model, group in _group(rows, "model").items():
        total = sum(r["traces"] for r in group)
        fig.add_trace(
            go.Scatter(
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
    return _layout(
        fig,
        x="reflection share of the thinking (%)",
        y="% of the model's traces",
        xaxis={"range": [0, 100], "ticksuffix": " %"},
    )


def first_candidate_position(rows: list[dict[str, Any]], palette: Palette) -> go.Figure:
    if not rows:
        return _empty("No trace has a candidate answer inside its thinking.")
    fig = go.Figure()
    for model, group in _group(rows, "model").items():
        total = sum(r["traces"] for r in group)
        fig.add_trace(
            go.Bar(
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
    return _layout(
        fig,
        x="position of the first candidate answer in the thinking",
        y="% of the model's traces",
        barmode="group",
        xaxis={"categoryorder": "array", "categoryarray": categories},
    )


def reflection_kinds(rows: list[dict[str, Any]], palette: Palette) -> go.Figure:
    """Reflections per trace, stacked by kind."""
    if not rows:
        return _empty("No reflections in this selection.")
    per_model: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    traces: dict[str, int] = {}
    for r in rows:
        per_model[r["model"]][r["kind"]] += r["reflections"]
        traces[r["model"]] = r["model_traces"]
    models = sorted(per_model)
    fig = go.Figure()
    for kind, colour in KIND_COLOURS.items():
        fig.add_trace(
            go.Bar(
                name=kind.replace("_", "-"),
                x=[palette.label(m) for m in models],
                y=[round(per_model[m][kind] / traces[m], 3) if traces[m] else 0 for m in models],
                customdata=[per_model[m][kind] for m in models],
                marker_color=colour,
                hovertemplate="%{y:.2f} per trace (%{customdata} in all)"
                "<extra>%{fullData.name}</extra>",
            )
        )
    return _layout(fig, y="reflections per trace", barmode="stack")


def transitions(rows: list[dict[str, Any]], palette: Palette) -> go.Figure:
    """Where confirmatory and corrective reflections take the answer (graded ones only)."""
    graded = [r for r in rows if r["transition"] in TRANSITION_COLOURS]
    if not graded:
        return _empty("No graded answer transitions in this selection.")
    per_model: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for r in graded:
        per_model[r["model"]][r["transition"]] += r["reflections"]
    models = sorted(per_model)
    fig = go.Figure()
    for transition, colour in TRANSITION_COLOURS.items():
        counts = [per_model[m][transition] for m in models]
        totals = [sum(per_model[m].values()) for m in models]
        fig.add_trace(
            go.Bar(
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
    return _layout(fig, y="% of graded transitions", barmode="stack")


def accuracy_by_reflections(rows: list[dict[str, Any]], palette: Palette) -> go.Figure:
    if not rows:
        return _empty("No graded traces in this selection.")
    fig = go.Figure()
    for model, group in _group(rows, "model").items():
        fig.add_trace(
            go.Scatter(
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
    return _layout(
        fig,
        x="reflection steps in the trace",
        y="accuracy (%)",
        xaxis={"categoryorder": "array", "categoryarray": [b[0] for b in REFLECTION_BINS]},
        yaxis={"range": [0, 105]},
    )


# --- runs and annotation -------------------------------------------------------------------


def run_throughput(rows: list[dict[str, Any]], palette: Palette) -> go.Figure:
    if not rows:
        return _empty("No traces from runs in this selection.")
    unit = rows[0]["unit"]
    fig = go.Figure()
    for model, group in _group(rows, "model").items():
        fig.add_trace(
            go.Scatter(
                name=palette.label(model),
                x=[r["time"] for r in group],
                y=[r["traces"] for r in group],
                mode="lines+markers",
                line={"color": palette.colour(model), "shape": "hv"},
            )
        )
    return _layout(fig, y=f"traces per {unit}")


def annotation_progress(rows: list[dict[str, Any]], palette: Palette) -> go.Figure:
    if not rows:
        return _empty("No annotations yet.")
    annotators = sorted({r["annotator"] for r in rows})
    counts = {(r["annotator"], r["state"]): r["annotations"] for r in rows}
    fig = go.Figure()
    for state, colour in STATE_COLOURS.items():
        fig.add_trace(
            go.Bar(
                name=state,
                y=annotators,
                x=[counts.get((a, state), 0) for a in annotators],
                orientation="h",
                marker_color=colour,
            )
        )
    return _layout(
        fig,
        x="annotations",
        barmode="stack",
        height=max(220, 120 + 28 * len(annotators)),
        yaxis={"autorange": "reversed"},
    )


def annotation_throughput(rows: list[dict[str, Any]], palette: Palette) -> go.Figure:
    if not rows:
        return _empty("No submitted annotations in this selection.")
    unit = rows[0]["unit"]
    people = Palette(r["annotator"] for r in rows)
    fig = go.Figure()
    for annotator, group in _group(rows, "annotator").items():
        fig.add_trace(
            go.Bar(
                name=annotator,
                x=[r["time"] for r in group],
                y=[r["submitted"] for r in group],
                marker_color=people.colour(annotator),
            )
        )
    return _layout(fig, y=f"annotations submitted per {unit}", barmode="stack")


def hint_success(rows: list[dict[str, Any]], palette: Palette) -> go.Figure:
    if not rows:
        return _empty("No branches from hints yet.")
    fig = go.Figure()
    fig.add_trace(
        go.Bar(
            x=[palette.label(r["model"]) for r in rows],
            y=[None if r["success_rate"] is None else 100 * r["success_rate"] for r in rows],
            text=[f"{r['fixed']}/{r['parent_wrong']}" for r in rows],
            textposition="outside",
            marker_color=[palette.colour(r["model"]) for r in rows],
            hovertemplate="%{y:.1f} %% of wrong parents fixed (%{text})<extra></extra>",
        )
    )
    return _layout(
        fig,
        y="wrong parents whose branch became right (%)",
        yaxis={"range": [0, 110]},
        showlegend=False,
    )


def hint_size(rows: list[dict[str, Any]], palette: Palette) -> go.Figure:
    if not rows:
        return _empty("No branches with a hint yet.")
    labels = [
        f"{100 * r['share_from']:.1f}-{100 * r['share_to']:.1f} %"
        if r["share_to"] is not None
        else f"≥ {100 * r['share_from']:.1f} %"
        for r in rows
    ]
    fig = go.Figure(
        go.Bar(
            x=[100 * (r["share_from"] + 0.0025) for r in rows],
            y=[r["branches"] for r in rows],
            width=0.45,
            customdata=list(zip(labels, [r["correct"] for r in rows], strict=True)),
            marker_color="#0072B2",
            hovertemplate="%{customdata[0]}: %{y} branches, %{customdata[1]} right<extra></extra>",
        )
    )
    fig.add_vline(
        x=100 * CALM_HINT_SHARE,
        line_dash="dash",
        line_color="#D55E00",
        annotation_text="CALM 2.6 %",
        annotation_position="top right",
    )
    return _layout(
        fig,
        x="hint length / parent's thinking (%)",
        y="branches",
        showlegend=False,
        xaxis={"ticksuffix": " %", "rangemode": "tozero"},
    )


AGREEMENT_SERIES = {
    "first_error_exact": ("first error, exact", "#0072B2"),
    "first_error_within1": ("first error, ±1 step", "#56B4E9"),
    "step_alpha": ("step labels, Krippendorff alpha", "#009E73"),
    "verdict_kappa": ("verdict, Cohen κ", "#E69F00"),
}


def agreement(rows: list[dict[str, Any]], palette: Palette) -> go.Figure:
    if not rows:
        return _empty("No trace has two submitted annotations yet.")
    fig = go.Figure()
    for key, (name, colour) in AGREEMENT_SERIES.items():
        fig.add_trace(
            go.Bar(
                name=name,
                x=[r["pair"] for r in rows],
                y=[r[key] for r in rows],
                customdata=[r["items"] for r in rows],
                marker_color=colour,
                hovertemplate="%{y:.2f} over %{customdata} shared traces"
                "<extra>%{fullData.name}</extra>",
            )
        )
    return _layout(fig, y="agreement", barmode="group", yaxis={"range": [-0.2, 1.05]})
