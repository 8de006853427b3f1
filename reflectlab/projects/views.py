from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import SetPasswordForm
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from reflectlab.core.access import project_view
from reflectlab.core.http import HtmxHttpRequest
from reflectlab.core.pagination import page_of
from reflectlab.projects import selectors, services
from reflectlab.projects.forms import MemberForm, ProjectCreateForm, ProjectSettingsForm
from reflectlab.projects.models import Role
from reflectlab.projects.tokens import invite_tokens

log = logging.getLogger(__name__)
NEW_LINK = "projects.invite_link"  # session key: the link shown once on the members page


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
            invitation = services.member_invite(
                project=request.project, invited_by=request.user, **form.cleaned_data
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            _report(request, form.cleaned_data, invitation)
            return redirect("projects:members", project_id=project_id)
    page = page_of(request, selectors.members_of(project=request.project))
    # The link lives in the (server-side) session until this page shows it, once.
    new_link = request.session.pop(NEW_LINK, None) if request.method == "GET" else None
    return render(
        request,
        "projects/members.html",
        {
            "project": request.project,
            "page": page,
            "form": form,
            "roles": Role.choices,
            "new_link": new_link,
        },
    )


def _report(request: HtmxHttpRequest, data: dict, invitation: services.Invitation) -> None:
    username, role = data["username"], data["role"]
    if not invitation.token:
        note = (
            " They have not yet accepted another project's invitation; once they have set "
            "their password there, they see this project too."
            if invitation.pending_elsewhere
            else ""
        )
        messages.success(request, f"{username} is now {role}.{note}")
        return
    invite = invitation.invite
    link = request.build_absolute_uri(
        reverse("projects:invite-accept", args=[invite.pk, invitation.token])
    )
    emailed = ""
    if invite.email:
        try:
            services.invite_email(invite=invite, link=link)
        except OSError as exc:  # smtplib's errors are OSErrors
            log.warning("invite email to %s failed: %s", invite.email, exc)
            emailed = "failed"
        else:
            emailed = "sent"
    request.session[NEW_LINK] = {
        "username": username,
        "role": role,
        "link": link,
        "email": invite.email,
        "emailed": emailed,
        "expires_at": (
            invite.issued_at + timedelta(seconds=settings.REFLECTLAB_INVITE_TTL_SECONDS)
        ).strftime("%Y-%m-%d %H:%M UTC"),
    }


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


@require_http_methods(["GET", "POST"])
def invite_accept(request: HtmxHttpRequest, invite_id: int, token: str):
    """The public end of an invitation link: choose a password, join, land on the project."""
    invite = selectors.invite_for_link(invite_id=invite_id)
    if not invite_tokens.check_token(invite, token):
        return render(request, "projects/invite_invalid.html", status=400)
    form = SetPasswordForm(invite.user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            invite = services.invite_accept(
                invite_id=invite.pk, token=token, password=form.cleaned_data["new_password1"]
            )
        except ValidationError:
            return render(request, "projects/invite_invalid.html", status=400)
        login(request, invite.user)
        messages.success(request, f"Welcome, {invite.user.get_username()}. Your password is set.")
        return redirect("projects:detail", project_id=invite.project_id)
    return render(request, "projects/invite_accept.html", {"form": form, "invite": invite})
