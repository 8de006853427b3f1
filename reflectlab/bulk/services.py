"""Bulk actions on a trace selection (the list's selection bar and ``traces/bulk`` in the API).

Each action is the single-trace one applied to a ``TraceSelection`` as one
set-based statement: pin / unpin (``review.queue``), add to the annotation
queue, and export (``exports.services.export_create`` with the selection as
an export filter). Who may do what follows the single-trace doors.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from reflectlab.exports import services as export_services
from reflectlab.exports.models import Export
from reflectlab.review import queue as queue_services
from reflectlab.traces.selection import ACTION_ROLES, TraceSelection

ACTIONS = tuple(ACTION_ROLES)
ROLES = ACTION_ROLES


@dataclass(frozen=True)
class BulkResult:
    action: str
    message: str
    changed: int = 0
    unchanged: int = 0
    skipped: dict[str, int] | None = None
    export: Export | None = None


def traces_bulk(
    *,
    selection: TraceSelection,
    action: str,
    user: Any,
    export: dict[str, Any] | None = None,
) -> BulkResult:
    """Apply ``action`` to ``selection`` (validated by ``selection_parse``; roles are the
    caller's to check with ``ROLES``). ``export`` is ``export_create``'s kind, format,
    filters and options; the selection is added to its filters. Raises ValueError
    for a bad export request (nothing is written)."""
    project = selection.project
    if action in ("pin", "unpin"):
        outcome = queue_services.queue_pin_traces(
            project=project, traces=selection.traces(), pinned=action == "pin"
        )
    elif action == "queue":
        outcome = queue_services.queue_add_traces(project=project, traces=selection.traces())
    elif action == "export":
        request = dict(export or {})
        filters = {**(request.pop("filters", None) or {}), **selection.export_filters()}
        made = export_services.export_create(project=project, user=user, filters=filters, **request)
        return BulkResult(
            action=action,
            message=f"Export #{made.pk} of {selection.describe()} started.",
            export=made,
        )
    else:
        raise ValueError(f"Unknown bulk action {action!r}: one of {', '.join(ACTIONS)}.")
    return BulkResult(
        action=action,
        message=outcome.message,
        changed=outcome.changed,
        unchanged=outcome.unchanged,
        skipped={why: n for why, n in outcome.skipped.items() if n},
    )
