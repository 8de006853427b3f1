from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction

from reflectlab.projects.models import Membership, Project, Role

User = get_user_model()


@transaction.atomic
def project_create(*, user: Any, name: str, description: str = "", **fields: Any) -> Project:
    """Create a project; its creator becomes its first manager."""
    project = Project.objects.create(name=name, description=description, **fields)
    Membership.objects.create(project=project, user=user, role=Role.MANAGER)
    return project


def project_update(*, project: Project, **fields: Any) -> Project:
    for name, value in fields.items():
        setattr(project, name, value)
    project.full_clean()
    project.save(update_fields=list(fields))
    return project


@transaction.atomic
def membership_set(*, project: Project, username: str, role: str) -> Membership:
    """Add a user to the project, or change their role."""
    if role not in Role.values:
        raise ValidationError({"role": f"Unknown role {role!r}."})
    try:
        user = User.objects.get(username=username)
    except User.DoesNotExist:
        raise ValidationError({"username": f"No user named {username!r}."}) from None
    _lock_memberships(project)
    membership, created = Membership.objects.get_or_create(
        project=project, user=user, defaults={"role": role}
    )
    if not created and membership.role != role:
        _refuse_last_manager(project, membership, role)
        membership.role = role
        membership.save(update_fields=["role"])
    return membership


@transaction.atomic
def membership_remove(*, project: Project, membership_id: int) -> None:
    _lock_memberships(project)
    membership = Membership.objects.filter(pk=membership_id, project=project).first()
    if membership is None:
        raise ValidationError("No such member.")
    _refuse_last_manager(project, membership, None)
    membership.delete()


def _lock_memberships(project: Project) -> None:
    """Serialise membership changes of one project on its row lock.

    The last-manager rule reads every manager and writes one row: two managers
    demoting each other at once would each count two and both succeed. Under
    this lock the second counts after the first has committed. (SQLite's
    IMMEDIATE transactions serialise all writers already.)
    """
    list(Project.objects.select_for_update().filter(pk=project.pk).values_list("pk"))


def _refuse_last_manager(project: Project, membership: Membership, new_role: str | None) -> None:
    if membership.role != Role.MANAGER or new_role == Role.MANAGER:
        return
    managers = Membership.objects.filter(project=project, role=Role.MANAGER).count()
    if managers <= 1:
        raise ValidationError("A project keeps at least one manager.")
