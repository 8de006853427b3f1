"""The dashboards' charts: which query feeds which figure, on which page, for whom.

The pages, the CSV downloads and the stats API all read this one registry.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.cache import cache
from django.db.models import Max

from reflectlab.annotations.models import Annotation
from reflectlab.dashboards import effort, effort_figures, figures, rollups, selectors
from reflectlab.dashboards.selectors import Filters
from reflectlab.projects.models import Project, Role
from reflectlab.traces.models import Trace

Rows = list[dict[str, Any]]
KIND_COLUMNS = ("model", "kind", "transition", "reflections", "model_traces")


@dataclass(frozen=True)
class Page:
    key: str
    title: str
    role: str


@dataclass(frozen=True)
class Chart:
    key: str
    title: str
    page: str
    rows: Callable[..., Rows]
    figure: Callable[[Rows, figures.Palette], figures.Figure]
    help: str
    columns: tuple[str, ...]


PAGES = {
    "reflection": Page("reflection", "Reflection by model", Role.ANNOTATOR),
    # Per-annotator numbers are about people: reviewers and managers only.
    "effort": Page("effort", "Runs, annotation and hints", Role.REVIEWER),
}

CHARTS: dict[str, Chart] = {
    chart.key: chart
    for chart in [
        Chart(
            "reflection-steps",
            "Reflection steps per trace",
            "reflection",
            selectors.reflection_steps,
            figures.reflection_steps,
            "Box: quartiles and Tukey whiskers; dashed line: mean.",
            ("model", "reflection_steps", "traces"),
        ),
        Chart(
            "reflection-share",
            "Reflection share of the thinking",
            "reflection",
            selectors.reflection_share,
            figures.reflection_share,
            "Share of thinking characters inside reflection or transition steps, in 5 % bins.",
            ("model", "share_from", "share_to", "traces"),
        ),
        Chart(
            "first-answer",
            "Position of the first candidate answer",
            "reflection",
            selectors.first_candidate_position,
            figures.first_candidate_position,
            "Where in the thinking the first candidate answer appears (First Try Matters).",
            ("model", "position_from", "position_to", "traces"),
        ),
        Chart(
            "reflection-kinds",
            "Confirmatory vs corrective reflections",
            "reflection",
            selectors.reflection_kinds,
            figures.reflection_kinds,
            "Corrective: the next candidate differs from the previous one; confirmatory: it agrees.",
            KIND_COLUMNS,
        ),
        Chart(
            "transitions",
            "Answer transitions across a reflection",
            "reflection",
            selectors.reflection_kinds,
            figures.transitions,
            "F→T: a reflection corrected a wrong answer; T→F: it broke a right one.",
            KIND_COLUMNS,
        ),
        Chart(
            "accuracy",
            "Accuracy against reflection count",
            "reflection",
            selectors.accuracy_by_reflections,
            figures.accuracy_by_reflections,
            "Graded traces only; marker size grows with the number of traces in the bin.",
            ("model", "reflection_steps", "graded", "correct", "accuracy"),
        ),
        Chart(
            "run-throughput",
            "Run throughput",
            "effort",
            effort.run_throughput,
            effort_figures.run_throughput,
            "Traces written by runs per minute (per hour or day over long ranges).",
            ("time", "unit", "model", "traces", "failed", "completion_tokens"),
        ),
        Chart(
            "annotation-progress",
            "Annotation progress per annotator",
            "effort",
            effort.annotation_progress,
            effort_figures.annotation_progress,
            "Annotations by state; the date filter applies to when they were started.",
            ("annotator", "state", "annotations", "mean_seconds"),
        ),
        Chart(
            "annotation-throughput",
            "Annotation throughput",
            "effort",
            effort.annotation_throughput,
            effort_figures.annotation_throughput,
            "Submitted annotations per annotator over time (by submission time).",
            ("time", "unit", "annotator", "submitted", "seconds"),
        ),
        Chart(
            "agreement",
            "Inter-annotator agreement",
            "effort",
            effort.agreement,
            effort_figures.agreement,
            "First-error step (exact and ±1), step labels (Krippendorff alpha, interval) and "
            "verdicts (Cohen κ), over traces with two or more submitted annotations.",
            (
                "pair",
                "items",
                "first_error_exact",
                "first_error_within1",
                "step_alpha",
                "verdict_kappa",
            ),
        ),
        Chart(
            "hint-success",
            "Hint success rate",
            "effort",
            effort.hint_success,
            effort_figures.hint_success,
            "Branches continued from a hint whose parent was wrong and whose answer became right.",
            ("model", "branches", "correct", "parent_wrong", "fixed", "broken", "success_rate"),
        ),
        Chart(
            "hint-size",
            "Hint size relative to the trace",
            "effort",
            effort.hint_size,
            effort_figures.hint_size,
            "Hint length over the parent's thinking length; CALM reports hints under 2.6 % of tokens.",
            ("share_from", "share_to", "branches", "correct"),
        ),
    ]
}


def charts_on(page: str) -> list[Chart]:
    return [chart for chart in CHARTS.values() if chart.page == page]


def charts_for(role: str) -> list[Chart]:
    return [c for c in CHARTS.values() if Role.rank(role) >= Role.rank(PAGES[c.page].role)]


# Read from the rollups (``rollups``), so never cached (see ``RowCache.get``).
ROLLED_UP = (selectors.by_reflection_count, selectors.by_share_and_position)


class RowCache:
    """Runs each selector once per request, and keeps its rows for a few minutes.

    Two charts may share one query. Across requests the rows are cached under
    a data version (the newest trace and annotation ids, two index lookups):
    new traces or annotations show at once; edits to existing rows (a
    re-analysis, a review) show within ``TTL`` seconds. The reflection charts'
    two base queries read the rollups instead and are never cached: they are
    current after every write.
    """

    TTL = 300

    def __init__(self, project: Project, filters: Filters):
        self.project, self.filters = project, filters
        self._rows: dict[Callable[..., Any], Any] = {}
        self._version: str | None = None

    def version(self) -> str:
        if self._version is None:
            newest = Trace.objects.filter(project=self.project).aggregate(m=Max("id"))["m"]
            # updated_at, not id: a submitted or reviewed annotation changes the charts too.
            notes = Annotation.objects.filter(project=self.project).aggregate(m=Max("updated_at"))[
                "m"
            ]
            self._version = f"{newest}:{notes}"
        return self._version

    def get(self, selector: Callable[..., Any]) -> Any:
        if selector not in self._rows and hasattr(selector, "base"):
            # A pure function of another selector's rows (``selectors.derived``).
            self._rows[selector] = selector.derive(self.get(selector.base))
        if selector not in self._rows and selector in ROLLED_UP and rollups.answers(self.filters):
            # The rollups are exact and current and cost a few milliseconds: never stale.
            self._rows[selector] = selector(project=self.project, filters=self.filters)
        if selector not in self._rows:
            detail = f"{selector.__module__}.{selector.__name__}:{self.filters!r}:{self.version()}"
            key = f"dashboards:{self.project.pk}:{hashlib.sha256(detail.encode()).hexdigest()}"
            value = cache.get(key)
            if value is None:
                value = selector(project=self.project, filters=self.filters)
                cache.set(key, value, self.TTL)
            self._rows[selector] = value
        return self._rows[selector]

    def rows(self, chart: Chart) -> Rows:
        return self.get(chart.rows)
