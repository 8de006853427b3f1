"""The trace list's selection bar posts here (URLs ``traces:bulk-*``, in ``traces/urls.py``)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from reflectlab.bulk.forms import BulkForm
from reflectlab.bulk.services import ROLES, traces_bulk
from reflectlab.core.access import project_view
from reflectlab.core.http import HtmxHttpRequest
from reflectlab.exports.forms import ExportForm
from reflectlab.traces.selection import TraceSelection, filters_from_query, selection_parse


def _selection(request: HtmxHttpRequest) -> tuple[TraceSelection | None, str, BulkForm]:
    """The posted selection (or None, with the error told) and the list page to go back to."""
    form = BulkForm(request.POST)
    back = reverse("traces:list", args=[request.project.pk])
    if not form.is_valid():
        messages.error(request, "That selection could not be read; nothing was changed.")
        return None, back, form
    query = form.cleaned_data["query"]
    if query:
        back += "?" + QueryDict(query).urlencode()  # re-encoded: only our own path
    try:
        if form.cleaned_data["scope"] == "filter":
            selection = selection_parse(project=request.project, filters=filters_from_query(query))
        else:
            selection = selection_parse(project=request.project, ids=form.cleaned_data["ids"])
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return None, back, form
    return selection, back, form


@project_view(role=ROLES["pin"])
@require_POST
def bulk_pin(request: HtmxHttpRequest, project_id: int):
    """Pin (``pinned=1``) or unpin (``pinned=0``) the selection in the annotation queue."""
    selection, back, _ = _selection(request)
    pinned = request.POST.get("pinned", "1")
    if pinned not in ("0", "1"):
        messages.error(request, "pinned is 1 (pin) or 0 (unpin); nothing was changed.")
    elif selection is not None:
        result = traces_bulk(
            selection=selection, action="pin" if pinned == "1" else "unpin", user=request.user
        )
        messages.success(request, result.message)
    return redirect(back)


@project_view(role=ROLES["queue"])
@require_POST
def bulk_queue(request: HtmxHttpRequest, project_id: int):
    """Add the selection to the annotation queue (already queued ones are counted)."""
    selection, back, _ = _selection(request)
    if selection is not None:
        result = traces_bulk(selection=selection, action="queue", user=request.user)
        messages.success(request, result.message)
    return redirect(back)


@project_view(role=ROLES["export"])
@require_POST
def bulk_export(request: HtmxHttpRequest, project_id: int):
    """Export the selection: first the export form (kind, format, shape), then, with
    ``start``, the export itself, landing on its page."""
    selection, back, bulk = _selection(request)
    if selection is None:
        return redirect(back)
    status = 200
    if "start" not in request.POST:
        form = ExportForm()
    else:
        form = ExportForm(request.POST)
        status = 400
        if form.is_valid():
            try:
                result = traces_bulk(
                    selection=selection,
                    action="export",
                    user=request.user,
                    export=form.payload(),
                )
            except ValueError as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, result.message)
                return redirect("exports:detail", project_id=project_id, export_id=result.export.pk)
    context = {
        "project": request.project,
        "form": form,
        "selection": selection,
        "described": selection.describe(),
        "bulk": bulk.cleaned_data,
        "back": back,
    }
    return render(request, "traces/bulk_export.html", context, status=status)
