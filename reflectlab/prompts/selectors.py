from __future__ import annotations

from django.db.models import Count, Q, QuerySet

from reflectlab.projects.models import Project
from reflectlab.prompts.models import Prompt


def prompt_list(*, project: Project, q: str = "", counted: bool = True) -> QuerySet[Prompt]:
    """Prompts in id order; ``counted`` adds ``n_traces`` (a join the API does not need)."""
    queryset = project.prompts.order_by("id")
    if counted:
        queryset = queryset.annotate(n_traces=Count("traces"))
    if q:
        queryset = queryset.filter(Q(text__icontains=q) | Q(external_id__icontains=q))
    return queryset
