"""API tokens: issued on a password sign-in, expiring, revocable.

DRF's ``Token`` (one per user) with a lifetime of ``REFLECTLAB_TOKEN_TTL_DAYS``
counted from its creation; an expired token is refused and replaced on the
next sign-in.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from rest_framework.authtoken.models import Token


def token_expires_at(token: Token) -> datetime:
    return token.created + timedelta(days=settings.REFLECTLAB_TOKEN_TTL_DAYS)


def token_is_expired(token: Token) -> bool:
    return timezone.now() >= token_expires_at(token)


def token_issue(*, user: Any) -> Token:
    """The user's current token, or a new one when there is none or it has expired."""
    with transaction.atomic():
        token = Token.objects.select_for_update().filter(user=user).first()
        if token is not None and not token_is_expired(token):
            return token
        if token is not None:
            token.delete()
        return Token.objects.create(user=user)


def token_rotate(*, user: Any) -> Token:
    """Revoke the current token and issue a new one."""
    with transaction.atomic():
        Token.objects.filter(user=user).delete()
        return Token.objects.create(user=user)


def token_revoke(*, user: Any) -> bool:
    """Delete the user's token; True when there was one."""
    deleted, _ = Token.objects.filter(user=user).delete()
    return bool(deleted)


def token_of(*, user: Any) -> Token | None:
    return Token.objects.filter(user=user).first()
