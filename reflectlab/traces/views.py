from __future__ import annotations

from django.http import HttpResponseBadRequest
from django.shortcuts import render
from django.views.decorators.http import require_GET

from reflectlab.core.access import project_view
from reflectlab.core.http import HtmxHttpRequest
from reflectlab.core.paginator import BoundedPaginator
from reflectlab.traces import selectors
from reflectlab.traces.filters import TraceFilterSet
from reflectlab.traces.forms import ListPageForm


@project_view()
@require_GET
def trace_list(request: HtmxHttpRequest, project_id: int):
    filterset = TraceFilterSet(request.GET, queryset=selectors.trace_list(project=request.project))
    paging = ListPageForm(request.GET)
    if not (filterset.is_valid() and paging.is_valid()):
        errors = {**filterset.errors, **paging.errors}
        return HttpResponseBadRequest(f"Invalid filters: {errors}")
    page = BoundedPaginator(filterset.qs, 50).get_page(paging.cleaned_data.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "project": request.project,
        "page": page,
        "form": filterset.form,
        "models": selectors.model_names(project=request.project),
        "query": query.urlencode(),
    }
    template = "traces/list.html#trace-table" if request.htmx else "traces/list.html"
    return render(request, template, context)
