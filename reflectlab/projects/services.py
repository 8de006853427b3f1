from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from reflectlab.projects.models import Invite, Membership, Project, Role
from reflectlab.projects.tokens import invite_tokens

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


@dataclass(frozen=True)
class Invitation:
    """What ``member_invite`` did. ``token`` is empty when no link was issued."""

    membership: Membership
    invite: Invite | None = None
    token: str = ""
    pending_elsewhere: bool = False  # invited by another project, not yet joined


def _pending(user: Any) -> bool:
    """Created by an invite and never activated: nobody has chosen its password."""
    return (
        not user.is_active
        and not user.has_usable_password()
        and user.last_login is None
        and Invite.objects.filter(user=user, accepted_at__isnull=True).exists()
    )


def _invited_elsewhere(user: Any, project: Project) -> bool:
    """An invite of another project the user still belongs to."""
    return (
        Invite.objects.filter(user=user, project__memberships__user=F("user"))
        .exclude(project=project)
        .exists()
    )


@transaction.atomic
def member_invite(
    *, project: Project, username: str, role: str, email: str = "", invited_by: Any
) -> Invitation:
    """Add ``username`` to the project, creating the user when it does not exist.

    An existing user is just added (or gets the new role), as ``membership_set``
    does. A new user is created inactive with an unusable password, and the
    manager gets a one-time set-password link; inviting a user who has not
    used their link yet issues a new link and kills the old one. A user invited
    by *another* project who has not joined yet is added here without a link:
    a link would let this project's manager choose the password of a person
    another project invited.
    """
    if role not in Role.values:
        raise ValidationError({"role": f"Unknown role {role!r}."})
    try:
        User.username_validator(username)
    except ValidationError as exc:
        raise ValidationError({"username": exc.messages}) from None
    _lock_memberships(project)
    user = User.objects.select_for_update().filter(username=username).first()
    if user is None:
        user = User(username=username, email=email, is_active=False)
        user.set_unusable_password()
        user.save()
    elif not _pending(user):
        return Invitation(membership_set(project=project, username=username, role=role))
    elif _invited_elsewhere(user, project):
        membership = membership_set(project=project, username=username, role=role)
        return Invitation(membership, pending_elsewhere=True)
    elif email and email != user.email:
        user.email = email
        user.save(update_fields=["email"])
    membership = membership_set(project=project, username=username, role=role)
    invite, _ = Invite.objects.update_or_create(
        project=project,
        user=user,
        defaults={
            "email": email or user.email,
            "invited_by": invited_by,
            "issued_at": timezone.now(),
            "accepted_at": None,
        },
    )
    return Invitation(membership, invite, invite_tokens.make_token(invite))


def invite_email(*, invite: Invite, link: str) -> None:
    """Send the set-password link through Django's email backend (``EMAIL_BACKEND``)."""
    hours = settings.REFLECTLAB_INVITE_TTL_SECONDS // 3600
    inviter = invite.invited_by.get_username() if invite.invited_by else "A manager"
    send_mail(
        subject=f"You are invited to {invite.project.name} on reflectlab",
        message=(
            f"{inviter} invited you to the reflectlab project “{invite.project.name}” "
            f"as {invite.user.get_username()}.\n\n"
            f"Choose your password here (the link works once, for {hours} hours):\n{link}\n"
        ),
        from_email=None,
        recipient_list=[invite.email],
    )


@transaction.atomic
def invite_accept(*, invite_id: int, token: str, password: str) -> Invite:
    """Set the invited user's password and activate them, if the link still holds.

    The user row is locked and the token checked again under the lock, so two
    submissions of one link cannot both succeed: the second sees the new
    password hash. Password validators run in the form, before this.
    """
    invite = (
        Invite.objects.select_for_update()
        .select_related("project", "user")
        .filter(pk=invite_id)
        .first()
    )
    if invite is not None:
        invite.user = User.objects.select_for_update().get(pk=invite.user_id)
    if not invite_tokens.check_token(invite, token):
        raise ValidationError("This invitation link has expired or was already used.")
    if not Membership.objects.filter(project=invite.project, user=invite.user).exists():
        # The manager removed the invitee: the link no longer leads anywhere.
        raise ValidationError("This invitation was withdrawn.")
    invite.user.set_password(password)
    invite.user.is_active = True
    invite.user.save(update_fields=["password", "is_active"])
    invite.accepted_at = timezone.now()
    invite.save(update_fields=["accepted_at"])
    return invite


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
