from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpResponseBadRequest
from django.shortcuts import render
from django.views.decorators.http import require_GET

from reflectlab.core.access import project_view
from reflectlab.core.http import HtmxHttpRequest
from reflectlab.traces import selectors
from reflectlab.traces.forms import TraceFilterForm


@project_view()
@require_GET
def trace_list(request: HtmxHttpRequest, project_id: int):
    form = TraceFilterForm(request.GET)
    if not form.is_valid():
        return HttpResponseBadRequest("Invalid filters: " + form.errors.as_text())
    filters = form.cleaned_data
    page = Paginator(selectors.trace_list(project=request.project, filters=filters), 50).get_page(
        filters.get("page")
    )
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "project": request.project,
        "page": page,
        "form": form,
        "models": selectors.model_names(project=request.project),
        "query": query.urlencode(),
    }
    template = "traces/list.html#trace-table" if request.htmx else "traces/list.html"
    return render(request, template, context)
