from __future__ import annotations

import csv

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from reflectlab.core.access import project_for
from reflectlab.core.http import HtmxHttpRequest
from reflectlab.dashboards import charts, effort, figures, selectors
from reflectlab.dashboards.forms import DashboardFilterForm
from reflectlab.dashboards.staticfiles import plotly_static_path
from reflectlab.traces import selectors as trace_selectors


@login_required
@require_GET
def dashboard(request: HtmxHttpRequest, project_id: int, page: str):
    project, membership = project_for(request.user, project_id, role=charts.PAGES[page].role)
    form = DashboardFilterForm(request.GET, project=project)
    context = {
        "project": project,
        "page": charts.PAGES[page],
        "pages": [p for p in charts.PAGES.values() if membership.allows(p.role)],
        "form": form,
        "plotly_js": plotly_static_path(),
        "query": request.GET.urlencode(),
    }
    status = 200
    if form.is_valid():
        filters = selectors.Filters.from_cleaned(form.cleaned_data)
        context.update(_page_data(project, page, filters))
    else:
        status = 400
    template = "dashboards/page.html#dashboard" if request.htmx else "dashboards/page.html"
    return render(request, template, context, status=status)


def _page_data(project, page: str, filters: selectors.Filters) -> dict:
    palette = figures.Palette(trace_selectors.model_names(project=project))
    cache = charts.RowCache(project, filters)
    items = [
        {
            "chart": chart,
            "figure": chart.figure(cache.rows(chart), palette),
            "script_id": f"fig-{chart.key}",
            "csv_url": reverse(f"dashboards:{page}-csv", args=[project.pk, chart.key]),
        }
        for chart in charts.charts_on(page)
    ]
    data: dict = {"charts": items}
    if page == "reflection":
        data["summary"] = cache.get(selectors.summary)
        data["models"] = [
            {**row, "label": palette.label(row["model"])}
            for row in cache.get(selectors.models_overview)
        ]
    else:
        data["coverage"] = cache.get(effort.annotation_coverage)
    return data


def _csv_cell(value):
    # Spreadsheets run cells that start like a formula; model names and
    # usernames come from users, so such cells get a leading quote (OWASP).
    if isinstance(value, str) and value[:1] in {"=", "+", "-", "@", "\t", "\r"}:
        return "'" + value
    return "" if value is None else value


@login_required
@require_GET
def chart_csv(request: HtmxHttpRequest, project_id: int, page: str, chart: str):
    project, _ = project_for(request.user, project_id, role=charts.PAGES[page].role)
    spec = charts.CHARTS.get(chart)
    if spec is None or spec.page != page:
        raise Http404("No such chart.")
    form = DashboardFilterForm(request.GET, project=project)
    if not form.is_valid():
        return HttpResponse(
            "Invalid filters: " + form.errors.as_text(), status=400, content_type="text/plain"
        )
    filters = selectors.Filters.from_cleaned(form.cleaned_data)
    rows = charts.RowCache(project, filters).rows(spec)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="project-{project.pk}-{chart}.csv"'
    writer = csv.writer(response)
    writer.writerow(spec.columns)
    for row in rows:
        writer.writerow([_csv_cell(row.get(column)) for column in spec.columns])
    return response
