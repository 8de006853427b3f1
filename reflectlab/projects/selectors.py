from __future__ import annotations

from typing import Any

from django.db.models import Count, F, OuterRef, Q, QuerySet, Subquery

from reflectlab.projects.models import Invite, Membership, Project


def projects_for_user(*, user: Any) -> QuerySet[Project]:
    return (
        Project.objects.filter(memberships__user_id=user.pk)
        .annotate(
            n_prompts=Count("prompts", distinct=True),
            n_traces=Count("traces", distinct=True),
        )
        .order_by("name", "id")
    )


def project_stats(*, project: Project) -> dict[str, Any]:
    traces = project.traces.aggregate(
        total=Count("id"),
        reflective=Count("id", filter=Q(has_reflection=True)),
        correct=Count("id", filter=Q(final_correct=True)),
        wrong=Count("id", filter=Q(final_correct=False)),
        truncated=Count("id", filter=Q(truncated=True)),
    )
    return {"prompts": project.prompts.count(), "traces": traces}


def members_of(*, project: Project) -> QuerySet[Membership]:
    """Members by username; ``invited_at`` is set while an invitee has not joined."""
    pending = Invite.objects.filter(
        project=project, user=OuterRef("user"), accepted_at__isnull=True, user__is_active=False
    )
    return (
        Membership.objects.filter(project=project)
        .select_related("user")
        .annotate(invited_at=Subquery(pending.values("issued_at")[:1]))
        .order_by("user__username")
    )


def invite_for_link(*, invite_id: int) -> Invite | None:
    """The invite a set-password link names, while its user still belongs to the project."""
    return (
        Invite.objects.select_related("project", "user")
        .filter(pk=invite_id, project__memberships__user=F("user"))
        .first()
    )
