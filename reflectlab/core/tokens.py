"""API tokens: issued on a password sign-in, stored as digests, expiring, revocable.

A token's key (``secrets.token_urlsafe``, 256 bits) is returned once, when it
is issued; the database keeps only its SHA-256 digest (``ApiToken``), and a
request is authenticated by looking the digest of the key it sends up (an
index lookup on a digest: nothing to compare in variable time). A plain hash
is enough here, unlike for passwords: the key is random, so there is nothing
to guess from the digest.

Because a key cannot be shown twice, **every sign-in issues a new token**
(``POST auth/token``, the *Token* page); a user may hold several, one per
script or machine, each expiring ``REFLECTLAB_TOKEN_TTL_DAYS`` after it was
issued. Issuing deletes the user's expired tokens and keeps at most
``MAX_TOKENS_PER_USER`` (the oldest go first), so repeated sign-ins do not
pile up rows. ``DELETE auth/token`` revokes the token it is sent with (with a
session instead: all of the user's tokens); ``token_rotate`` revokes all and
issues one.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from reflectlab.core.models import ApiToken

MAX_TOKENS_PER_USER = 20
PREFIX_CHARS = 6
# ``last_used`` is written at most this often per token (not on every request).
TOUCH_SECONDS = 60


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    key: str  # the only copy: hand it to the user, keep it nowhere


def token_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def token_expires_at(token: ApiToken) -> datetime:
    return token.created + timedelta(days=settings.REFLECTLAB_TOKEN_TTL_DAYS)


def token_is_expired(token: ApiToken) -> bool:
    return timezone.now() >= token_expires_at(token)


def _expired_before() -> datetime:
    return timezone.now() - timedelta(days=settings.REFLECTLAB_TOKEN_TTL_DAYS)


def token_issue(*, user: Any) -> IssuedToken:
    """A new token for ``user``; their expired ones and any beyond the cap go."""
    key = secrets.token_urlsafe(32)
    with transaction.atomic():
        tokens = ApiToken.objects.filter(user=user)
        tokens.filter(created__lte=_expired_before()).delete()
        keep = list(tokens.order_by("-created", "-id").values_list("pk", flat=True))
        if len(keep) >= MAX_TOKENS_PER_USER:
            tokens.filter(pk__in=keep[MAX_TOKENS_PER_USER - 1 :]).delete()
        token = ApiToken.objects.create(
            user=user, digest=token_digest(key), prefix=key[:PREFIX_CHARS]
        )
    return IssuedToken(token=token, key=key)


def token_rotate(*, user: Any) -> IssuedToken:
    """Revoke every token of ``user`` and issue a new one."""
    with transaction.atomic():
        ApiToken.objects.filter(user=user).delete()
        return token_issue(user=user)


def token_revoke(*, user: Any, token: ApiToken | None = None) -> int:
    """Delete one token of ``user`` (``token``) or all of them; how many went."""
    tokens = ApiToken.objects.filter(user=user)
    if token is not None:
        tokens = tokens.filter(pk=token.pk)
    deleted, _ = tokens.delete()
    return deleted


def token_find(*, key: str) -> ApiToken | None:
    """The token whose key is ``key`` (expired or not), with its user."""
    return ApiToken.objects.select_related("user").filter(digest=token_digest(key)).first()


def token_touch(token: ApiToken) -> None:
    """Record that the token was used (at most every ``TOUCH_SECONDS``)."""
    now = timezone.now()
    if token.last_used is None or now - token.last_used >= timedelta(seconds=TOUCH_SECONDS):
        ApiToken.objects.filter(pk=token.pk).update(last_used=now)
        token.last_used = now


def tokens_of(*, user: Any) -> list[ApiToken]:
    """The user's tokens, newest first (expired ones too, until the next issue)."""
    return list(ApiToken.objects.filter(user=user).order_by("-created", "-id"))
