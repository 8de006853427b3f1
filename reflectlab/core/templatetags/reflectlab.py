from __future__ import annotations

from django import template

from reflectlab.projects.models import Membership

register = template.Library()


@register.filter
def short_model(name: str) -> str:
    """``deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B`` → ``DeepSeek-R1-Distill-Qwen-1.5B``."""
    return (name or "").rsplit("/", 1)[-1]


@register.simple_tag(takes_context=True)
def role_in(context, project) -> str:
    """The current user's role in ``project`` ('' if none), one query per request."""
    request = context.get("request")
    if request is None or project is None or not request.user.is_authenticated:
        return ""
    membership = getattr(request, "membership", None)
    if membership is not None and membership.project_id == project.pk:
        return membership.role
    cache = request.__dict__.setdefault("_reflectlab_roles", {})
    if project.pk not in cache:
        cache[project.pk] = (
            Membership.objects.filter(project_id=project.pk, user_id=request.user.pk)
            .values_list("role", flat=True)
            .first()
            or ""
        )
    return cache[project.pk]
