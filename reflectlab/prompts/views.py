from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from reflectlab.core.access import project_view
from reflectlab.core.htmx import stop_polling
from reflectlab.core.http import HtmxHttpRequest
from reflectlab.projects.models import Role
from reflectlab.prompts import selectors, services
from reflectlab.prompts.forms import ImportForm, ListFilterForm
from reflectlab.prompts.models import ImportJob


@project_view()
@require_GET
def prompt_list(request: HtmxHttpRequest, project_id: int):
    filters = ListFilterForm(request.GET)
    filters.is_valid()
    q = filters.cleaned_data.get("q") or ""
    page = Paginator(selectors.prompt_list(project=request.project, q=q), 50).get_page(
        filters.cleaned_data.get("page")
    )
    return render(
        request,
        "prompts/list.html",
        {"project": request.project, "page": page, "q": q},
    )


@project_view(role=Role.MANAGER)
@require_http_methods(["GET", "POST"])
def import_create(request: HtmxHttpRequest, project_id: int, kind: str):
    if kind not in ImportJob.Kind.values:
        return HttpResponse(status=404)
    form = ImportForm(request.POST or None, request.FILES or None, kind=kind)
    if request.method == "POST" and form.is_valid():
        try:
            job = services.import_job_create(
                project=request.project,
                user=request.user,
                upload=form.cleaned_data["file"],
                kind=kind,
                file_format=form.cleaned_data["file_format"],
                mapping=form.cleaned_data["mapping"],
                allow_partial=form.cleaned_data["allow_partial"],
            )
        except (ValueError, ValidationError) as exc:
            form.add_error("mapping", str(exc))
        else:
            return redirect("prompts:import-detail", project_id=project_id, job_id=job.pk)
    jobs = request.project.import_jobs.all()[:10]
    return render(
        request,
        "prompts/import.html",
        {"project": request.project, "form": form, "kind": kind, "jobs": jobs},
    )


@project_view(role=Role.MANAGER)
@require_GET
def import_detail(request: HtmxHttpRequest, project_id: int, job_id: int):
    job = get_object_or_404(ImportJob, pk=job_id, project=request.project)
    context = {"project": request.project, "job": job}
    if request.htmx:
        response = render(request, "prompts/import_detail.html#import-status", context)
        return stop_polling(response, when=job.is_terminal)
    return render(request, "prompts/import_detail.html", context)
