from __future__ import annotations

from django.db.models import Count, Q, QuerySet

from reflectlab.projects.models import Project
from reflectlab.prompts.models import Prompt


def prompt_list(*, project: Project, q: str = "") -> QuerySet[Prompt]:
    queryset = project.prompts.annotate(n_traces=Count("traces")).order_by("id")
    if q:
        queryset = queryset.filter(Q(text__icontains=q) | Q(external_id__icontains=q))
    return queryset
