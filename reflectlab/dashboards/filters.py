"""The dashboards' filters (run, model, dates) and the trace sets they select."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone

from reflectlab.projects.models import Project
from reflectlab.traces.models import Trace


@dataclass(frozen=True)
class Filters:
    run: int | None = None
    model: str = ""
    date_from: date | None = None
    date_to: date | None = None

    @classmethod
    def from_cleaned(cls, data: dict[str, Any]) -> Filters:
        return cls(
            run=data.get("run"),
            model=data.get("model") or "",
            date_from=data.get("date_from"),
            date_to=data.get("date_to"),
        )

    def time_range(self) -> tuple[datetime | None, datetime | None]:
        """Whole days in the current time zone, as a half-open datetime range (index friendly)."""
        tz = timezone.get_current_timezone()
        start = datetime.combine(self.date_from, time.min, tzinfo=tz) if self.date_from else None
        end = (
            datetime.combine(self.date_to + timedelta(days=1), time.min, tzinfo=tz)
            if self.date_to
            else None
        )
        return start, end

    def q(self, prefix: str = "", *, time_field: str = "created_at") -> Q:
        """The filters as a Q on a Trace (``prefix`` reaches a Trace from another model)."""
        q = Q()
        if self.run is not None:
            q &= Q(**{f"{prefix}run_id": self.run})
        if self.model:
            q &= Q(**{f"{prefix}model_name": self.model})
        return q & self.time_q(time_field)

    def time_q(self, field: str) -> Q:
        start, end = self.time_range()
        q = Q()
        if start:
            q &= Q(**{f"{field}__gte": start})
        if end:
            q &= Q(**{f"{field}__lt": end})
        return q


def traces(*, project: Project, filters: Filters) -> QuerySet[Trace]:
    """Analysed, first-generation traces: branches carry a human hint, so they
    would blur the model's own behaviour and are charted separately."""
    return Trace.objects.filter(
        filters.q(), project=project, state=Trace.State.READY, parent__isnull=True
    ).order_by()


def ratio(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def rounded(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)
