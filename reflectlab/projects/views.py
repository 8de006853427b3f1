from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from reflectlab.core.access import project_view
from reflectlab.core.http import HtmxHttpRequest
from reflectlab.core.pagination import page_of
from reflectlab.projects import selectors, services
from reflectlab.projects.forms import MemberForm, ProjectCreateForm, ProjectSettingsForm
from reflectlab.projects.models import Role


@login_required
@require_http_methods(["GET", "POST"])
def project_list(request: HtmxHttpRequest):
    form = ProjectCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        project = services.project_create(user=request.user, **form.cleaned_data)
        messages.success(request, f"Project “{project.name}” created. You are its manager.")
        return redirect("projects:detail", project_id=project.pk)
    projects = selectors.projects_for_user(user=request.user)
    return render(request, "projects/list.html", {"projects": projects, "form": form})


@project_view()
@require_GET
def project_detail(request: HtmxHttpRequest, project_id: int):
    return render(
        request,
        "projects/detail.html",
        {"project": request.project, "stats": selectors.project_stats(project=request.project)},
    )


@project_view(role=Role.MANAGER)
@require_http_methods(["GET", "POST"])
def project_settings(request: HtmxHttpRequest, project_id: int):
    form = ProjectSettingsForm(request.POST or None, instance=request.project)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, "Settings saved.")
        return redirect("projects:settings", project_id=project_id)
    return render(request, "projects/settings.html", {"project": request.project, "form": form})


@project_view(role=Role.MANAGER)
@require_http_methods(["GET", "POST"])
def member_list(request: HtmxHttpRequest, project_id: int):
    form = MemberForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.membership_set(project=request.project, **form.cleaned_data)
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(
                request, f"{form.cleaned_data['username']} is now {form.cleaned_data['role']}."
            )
            return redirect("projects:members", project_id=project_id)
    page = page_of(request, selectors.members_of(project=request.project))
    return render(
        request,
        "projects/members.html",
        {"project": request.project, "page": page, "form": form, "roles": Role.choices},
    )


@project_view(role=Role.MANAGER)
@require_POST
def member_remove(request: HtmxHttpRequest, project_id: int, membership_id: int):
    try:
        services.membership_remove(project=request.project, membership_id=membership_id)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, "Member removed.")
    return redirect("projects:members", project_id=project_id)
