"""A selection of traces for bulk actions: chosen ids, or every trace a filter matches.

The list's "select all N matching" never turns into a list of ids: the
selection keeps the validated filter (``TraceFilterSet`` parameters) and every
bulk action runs as set-based SQL over ``TraceSelection.traces()``, so a
million matching traces cost what one costs in memory.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import QueryDict

from reflectlab.core.ids import bounded_id
from reflectlab.projects.models import Project, Role
from reflectlab.traces.filters import TraceFilterSet
from reflectlab.traces.models import Trace

# Who may act on a selection (reflectlab.bulk), as the single-trace doors:
# review:pin and review:policy are managers'; exports:create is reviewers'
# and up (exports.views.CREATE_ROLE). Here, so the list shows only what the
# member may do without importing the apps built on traces.
ACTION_ROLES = {
    "pin": Role.MANAGER,
    "unpin": Role.MANAGER,
    "queue": Role.MANAGER,
    "export": Role.REVIEWER,
}
# Chosen one by one (a page is 50): a bigger set goes by filter.
MAX_IDS = 1000
# List parameters that are not filters (the page and its order).
NOT_FILTERS = ("page", "sort")
# Counting a filter's matches stops here (as the list's pages do: BoundedPaginator).
COUNT_LIMIT = 10_000


def clean_filters(params: Mapping[str, Any]) -> dict[str, str]:
    """``TraceFilterSet`` parameters, validated: unknown keys and bad values are refused.

    Returns the non-empty ones as strings, sorted by key, so a stored filter
    (an export's) reads and compares the same however it was written.
    """
    if not isinstance(params, Mapping):
        raise ValidationError("The filters must be an object of trace-list filters.")
    allowed = set(TraceFilterSet.base_filters)
    unknown = sorted(str(key) for key in params if key not in allowed)
    if unknown:
        raise ValidationError(f"Unknown trace filters: {', '.join(unknown)}.")
    values: dict[str, str] = {}
    for key, value in params.items():
        if isinstance(value, list | tuple):
            if len(value) > 1:
                raise ValidationError(f"The filter {key} takes one value.")
            value = value[0] if value else ""
        if value is None or isinstance(value, dict | list | tuple):
            raise ValidationError(f"The filter {key} takes a text value.")
        if isinstance(value, bool):
            value = "true" if value else "false"
        if str(value) != "":
            values[key] = str(value)
    filterset = TraceFilterSet(values, queryset=Trace.objects.none())
    if not filterset.is_valid():
        problems = "; ".join(
            f"{name}: {' '.join(str(m) for m in messages)}"
            for name, messages in filterset.errors.items()
        )
        raise ValidationError(f"Invalid trace filters — {problems}")
    return dict(sorted(values.items()))


def filters_from_query(query: str) -> dict[str, str]:
    """The filters of a trace-list query string (its page and sort dropped), validated."""
    data = QueryDict(query or "")
    return clean_filters({k: v for k, v in data.lists() if k not in NOT_FILTERS})


def filtered(queryset: QuerySet[Trace], filters: Mapping[str, str]) -> QuerySet[Trace]:
    """``queryset`` narrowed by filters that ``clean_filters`` validated."""
    filterset = TraceFilterSet(dict(filters), queryset=queryset)
    if not filterset.is_valid():  # validated before; a stored filter that no longer parses
        raise ValidationError(f"Invalid trace filters: {dict(filterset.errors)}")
    return filterset.qs


def clean_ids(values: Iterable[Any]) -> list[int]:
    """Trace ids from input: whole numbers in range, each once, in order; at most MAX_IDS."""
    if isinstance(values, str | bytes | Mapping) or not isinstance(values, Iterable):
        raise ValidationError("ids must be a list of trace ids.")
    ids: list[int] = []
    for value in values:
        try:
            ids.append(bounded_id(value, "A trace id"))
        except ValueError as exc:
            raise ValidationError(str(exc)) from None
        if len(ids) > MAX_IDS:
            raise ValidationError(
                f"At most {MAX_IDS} traces are chosen one by one; select by filter for more."
            )
    return sorted(set(ids))


@dataclass(frozen=True)
class TraceSelection:
    """Chosen ``ids`` (all in ``project``, checked) or, with ``filters``, every match."""

    project: Project
    ids: tuple[int, ...] = ()
    filters: dict[str, str] | None = field(default=None)

    @property
    def by_filter(self) -> bool:
        return self.filters is not None

    def traces(self) -> QuerySet[Trace]:
        """The selected traces of the project, as a query (never loaded here)."""
        base = Trace.objects.filter(project=self.project)
        if self.filters is not None:
            return filtered(base, self.filters)
        return base.filter(pk__in=self.ids)

    def count(self) -> tuple[int, bool]:
        """(how many, capped): a filter's matches are counted up to COUNT_LIMIT."""
        if self.filters is None:
            return len(self.ids), False
        n = self.traces().order_by().values("pk")[: COUNT_LIMIT + 1].count()
        return min(n, COUNT_LIMIT), n > COUNT_LIMIT

    def export_filters(self) -> dict[str, Any]:
        """The export filter that restricts an export to this selection."""
        if self.filters is not None:
            return {"traces": dict(self.filters)}
        return {"trace_ids": list(self.ids)}

    def describe(self) -> str:
        n, capped = self.count()
        amount = f"over {COUNT_LIMIT:,}" if capped else f"{n:,}"
        noun = "trace" if n == 1 and not capped else "traces"
        if self.filters is None:
            return f"{amount} selected {noun}"
        if not self.filters:
            return f"all {amount} {noun} of the project"
        shown = ", ".join(f"{k}={v}" for k, v in self.filters.items())
        return f"all {amount} {noun} matching {shown}"


def selection_parse(
    *, project: Project, ids: Iterable[Any] | None = None, filters: Mapping[str, Any] | None = None
) -> TraceSelection:
    """Check a bulk request's selection; raises ValidationError (and nothing is changed).

    Exactly one of ``ids`` (each must be a trace of ``project``: an unknown id,
    or one of another project, refuses the whole request, naming the ids) or
    ``filters`` (which must match at least one trace).
    """
    if (ids is None) == (filters is None):
        raise ValidationError("Choose traces by ids or by filters (one of them).")
    if filters is not None:
        selection = TraceSelection(project=project, filters=clean_filters(filters))
        if not selection.traces().exists():
            raise ValidationError("No traces match these filters; nothing was changed.")
        return selection
    chosen = clean_ids(ids)
    if not chosen:
        raise ValidationError("Select at least one trace.")
    found = set(Trace.objects.filter(project=project, pk__in=chosen).values_list("pk", flat=True))
    missing = [pk for pk in chosen if pk not in found]
    if missing:
        shown = ", ".join(str(pk) for pk in missing[:10]) + (" …" if len(missing) > 10 else "")
        raise ValidationError(
            f"Not traces of this project: {shown}. Nothing was changed.",
            code="unknown_ids",
        )
    return TraceSelection(project=project, ids=tuple(chosen))
