from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from reflectlab.core.access import object_for, project_view
from reflectlab.core.htmx import stop_polling
from reflectlab.core.http import HtmxHttpRequest
from reflectlab.projects.models import Role
from reflectlab.runs import selectors, services
from reflectlab.runs.forms import RunCreateForm


@project_view()
@require_GET
def run_list(request: HtmxHttpRequest, project_id: int):
    page = Paginator(selectors.run_list(project=request.project), 50).get_page(
        request.GET.get("page") if str(request.GET.get("page", "")).isdigit() else 1
    )
    return render(
        request,
        "runs/list.html",
        {"project": request.project, "page": page, "membership": request.membership},
    )


@project_view(role=Role.MANAGER)
@require_http_methods(["GET", "POST"])
def run_create(request: HtmxHttpRequest, project_id: int):
    initial = {}
    if str(request.GET.get("model_config", "")).isdigit():
        initial["model_config"] = int(request.GET["model_config"])
    form = RunCreateForm(request.POST or None, project=request.project, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            run = services.run_create(
                project=request.project,
                model_config=data["model_config"],
                user=request.user,
                samples_per_prompt=data["samples_per_prompt"],
                prompt_ids=data["prompt_ids"],
                q=data["q"],
                mode=data["mode"],
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"Run {run.pk} queued: {run.items_total} generations.")
            return redirect("runs:detail", run_id=run.pk)
    return render(
        request,
        "runs/create.html",
        {
            "project": request.project,
            "form": form,
            "n_prompts": request.project.prompts.count(),
            "has_configs": request.project.model_configs.exists(),
        },
    )


def _status_context(run, membership):
    return {
        "project": run.project,
        "run": run,
        "progress": selectors.run_progress(run=run),
        "failed_items": selectors.run_failed_items(run=run),
        "membership": membership,
    }


@login_required
@require_GET
def run_detail(request: HtmxHttpRequest, run_id: int):
    run, membership = object_for(request.user, selectors.run_detail(run_id=run_id), run_id)
    context = _status_context(run, membership)
    if request.htmx:
        response = render(request, "runs/detail.html#run-status", context)
        return stop_polling(response, when=run.is_terminal)
    return render(request, "runs/detail.html", context)


@login_required
@require_POST
def run_cancel(request: HtmxHttpRequest, run_id: int):
    run, membership = object_for(
        request.user, selectors.run_detail(run_id=run_id), run_id, role=Role.MANAGER
    )
    cancelled = services.run_cancel(run=run)
    if request.htmx:
        return render(request, "runs/detail.html#run-status", _status_context(run, membership))
    if cancelled:
        messages.success(request, f"Run {run.pk} cancelled; requests in flight finish.")
    else:
        messages.error(request, f"Run {run.pk} had already finished.")
    return redirect("runs:detail", run_id=run.pk)
