from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from reflectlab.core.access import object_for, project_view
from reflectlab.core.http import HtmxHttpRequest
from reflectlab.projects.models import Role
from reflectlab.providers import services
from reflectlab.providers.forms import ModelConfigForm
from reflectlab.providers.models import ModelConfig


@project_view()
@require_GET
def config_list(request: HtmxHttpRequest, project_id: int):
    configs = request.project.model_configs.order_by("name", "id")
    return render(
        request,
        "providers/list.html",
        {"project": request.project, "configs": configs, "membership": request.membership},
    )


@project_view(role=Role.MANAGER)
@require_http_methods(["GET", "POST"])
def config_create(request: HtmxHttpRequest, project_id: int):
    form = ModelConfigForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            config = services.model_config_create(project=request.project, data=form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"Saved {config.name}.")
            return redirect("providers:edit", config_id=config.pk)
    return render(
        request, "providers/form.html", {"project": request.project, "form": form, "config": None}
    )


@login_required
@require_http_methods(["GET", "POST"])
def config_edit(request: HtmxHttpRequest, config_id: int):
    config, _ = object_for(
        request.user, ModelConfig.objects.select_related("project"), config_id, role=Role.MANAGER
    )
    form = ModelConfigForm(request.POST or None, instance=config)
    if request.method == "POST" and form.is_valid():
        try:
            services.model_config_update(config=config, data=form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"Saved {config.name}.")
            return redirect("providers:edit", config_id=config.pk)
    return render(
        request,
        "providers/form.html",
        {"project": config.project, "form": form, "config": config},
    )


@login_required
@require_POST
def config_test(request: HtmxHttpRequest, config_id: int):
    """Bounded: a model listing with a 3 s timeout, never a generation."""
    config, _ = object_for(
        request.user, ModelConfig.objects.select_related("project"), config_id, role=Role.MANAGER
    )
    check = services.model_config_test(config=config)
    context = {"project": config.project, "config": config, "check": check}
    if request.htmx:
        return render(request, "providers/form.html#connection-result", context)
    messages.success(request, check.message) if check.ok else messages.error(request, check.message)
    return redirect("providers:edit", config_id=config.pk)
