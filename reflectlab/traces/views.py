from __future__ import annotations

from django.db.models import F
from django.http import HttpResponseBadRequest
from django.shortcuts import render
from django.views.decorators.http import require_GET

from reflectlab.core.access import project_view
from reflectlab.core.http import HtmxHttpRequest
from reflectlab.core.paginator import BoundedPaginator
from reflectlab.traces import selectors
from reflectlab.traces.filters import TraceFilterSet
from reflectlab.traces.forms import ListPageForm
from reflectlab.traces.selection import ACTION_ROLES

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
        "can_queue": request.membership.allows(ACTION_ROLES["pin"]),
        "can_export": request.membership.allows(ACTION_ROLES["export"]),
    }
    template = "traces/list.html#trace-table" if request.htmx else "traces/list.html"
    return render(request, template, context)
