from __future__ import annotations

from typing import Any

from django.db.models import Count, Q, QuerySet

from reflectlab.projects.models import Membership, Project


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
    return (
        Membership.objects.filter(project=project).select_related("user").order_by("user__username")
    )
