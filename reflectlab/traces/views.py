from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import F
from django.http import HttpResponseBadRequest, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from reflectlab.core.access import project_view
from reflectlab.core.http import HtmxHttpRequest
from reflectlab.core.paginator import BoundedPaginator
from reflectlab.exports.forms import ExportForm
from reflectlab.traces import selectors
from reflectlab.traces.bulk import ROLES, traces_bulk
from reflectlab.traces.filters import TraceFilterSet
from reflectlab.traces.forms import BulkForm, ListPageForm
from reflectlab.traces.selection import TraceSelection, filters_from_query, selection_parse

# (sort key or "", header, css class): sort keys are traces.forms.SORTS.
COLUMNS = [
    ("id", "#", "num"),
    ("", "Prompt", ""),
    ("model_name", "Model", ""),
    ("n_steps", "Steps", "num"),
    ("n_reflection_steps", "Reflections", "num"),
    ("", "Answer", ""),
    ("outcome", "Outcome", ""),
]


@project_view()
@require_GET
def trace_list(request: HtmxHttpRequest, project_id: int):
    filterset = TraceFilterSet(request.GET, queryset=selectors.trace_list(project=request.project))
    paging = ListPageForm(request.GET)
    if not (filterset.is_valid() and paging.is_valid()):
        errors = {**filterset.errors, **paging.errors}
        return HttpResponseBadRequest(f"Invalid filters: {errors}")
    sort = paging.cleaned_data.get("sort") or ""
    queryset = filterset.qs
    if sort:  # validated against traces.forms.SORTS; the id keeps pages stable
        key = F(sort.lstrip("-"))
        desc = sort.startswith("-")
        queryset = queryset.order_by(
            key.desc(nulls_last=True) if desc else key.asc(nulls_last=True),
            "-id" if desc else "id",
        )
    # The row's pin shows in the list: one join on the page's rows (never a query per row).
    queryset = queryset.select_related("queue_item").only(
        *selectors.LIST_FIELDS, "queue_item__pin_order", "queue_item__in_queue"
    )
    page = BoundedPaginator(queryset, 50).get_page(paging.cleaned_data.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    sortless = query.copy()
    sortless.pop("sort", None)
    context = {
        "project": request.project,
        "page": page,
        "form": filterset.form,
        "models": selectors.model_names(project=request.project),
        "query": query.urlencode(),
        "sortless": sortless.urlencode(),
        "jump_params": [(k, v) for k, values in query.lists() for v in values],
        "sort": sort,
        "sort_form": paging,
        "columns": COLUMNS,
        "here": request.GET.urlencode(),  # the bulk form returns to this page
        "has_filters": any(v for k, v in sortless.items() if k != "search_in"),
        "can_queue": request.membership.allows(ROLES["pin"]),
        "can_export": request.membership.allows(ROLES["export"]),
    }
    template = "traces/list.html#trace-table" if request.htmx else "traces/list.html"
    return render(request, template, context)


# ----- bulk actions on a selection (traces.bulk) ---------------------------------


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
