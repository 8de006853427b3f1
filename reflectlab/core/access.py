"""Membership and role checks shared by every view, API view and service.

Objects of other projects answer 404 (their existence is not revealed); a
member whose role is too low gets 403.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import Http404

from reflectlab.core.ids import ID_MAX
from reflectlab.projects.models import Membership, Project, Role

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

M = TypeVar("M", bound=models.Model)


def membership_for(user: AbstractBaseUser, project_id: int) -> Membership:
    if not user.is_authenticated:
        raise PermissionDenied
    if not 0 < int(project_id) <= ID_MAX:
        raise Http404("No such project.")
    try:
        return Membership.objects.select_related("project").get(
            project_id=project_id, user_id=user.pk
        )
    except Membership.DoesNotExist:
        raise Http404("No such project.") from None


def require_role(membership: Membership, role: str) -> None:
    if not membership.allows(role):
        raise PermissionDenied(f"This needs the {role} role in {membership.project.name}.")


def project_for(
    user: AbstractBaseUser, project_id: int, *, role: str = Role.ANNOTATOR
) -> tuple[Project, Membership]:
    membership = membership_for(user, project_id)
    require_role(membership, role)
    return membership.project, membership


def object_for[M: models.Model](
    user: AbstractBaseUser,
    queryset: models.QuerySet[M],
    pk: int,
    *,
    role: str = Role.ANNOTATOR,
    project_field: str = "project_id",
) -> tuple[M, Membership]:
    """Fetch one object of a project the user belongs to, checking the role."""
    try:
        if not 0 < int(pk) <= ID_MAX:
            raise queryset.model.DoesNotExist
        obj = queryset.get(pk=pk)
    except (queryset.model.DoesNotExist, ValueError, TypeError):
        raise Http404 from None
    project_id = obj
    for part in project_field.split("__"):
        project_id = getattr(project_id, part)
    membership = membership_for(user, project_id)
    require_role(membership, role)
    return obj, membership


def projects_of(user: AbstractBaseUser, *, role: str = Role.ANNOTATOR) -> models.QuerySet[Project]:
    allowed = [r for r in Role.values if Role.rank(r) >= Role.rank(role)]
    return Project.objects.filter(
        memberships__user_id=user.pk, memberships__role__in=allowed
    ).distinct()


def project_view(role: str = Role.ANNOTATOR):
    """Decorate a view taking ``project_id``: login, membership and role checked.

    The view receives ``request.project`` and ``request.membership``.
    """
    from functools import wraps

    from django.contrib.auth.decorators import login_required

    def decorator(view):
        @login_required
        @wraps(view)
        def wrapper(request, project_id: int, *args, **kwargs):
            request.project, request.membership = project_for(request.user, project_id, role=role)
            return view(request, project_id, *args, **kwargs)

        return wrapper

    return decorator
