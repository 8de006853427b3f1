"""Sign-in throttling per username and per client address (UI, admin and API alike).

An attempt is counted *before* the password is checked, inside one
transaction that locks the two counters, so parallel guesses cannot slip past
the limit; a successful sign-in clears the username's count and returns the
address's one. Counters live in fixed windows of
``REFLECTLAB_LOGIN_WINDOW_SECONDS``; the limit applies to the current plus the
previous window, so a burst at a window edge does not double it. Refused
attempts are not counted, so a lock ends by itself at most two windows later.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import F, Sum
from django.http import HttpRequest

from reflectlab.core.models import SignInCounter


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    retry_after: int = 0


def client_address(request: HttpRequest | None) -> str:
    """The client's address; behind ``REFLECTLAB_TRUSTED_PROXY_HOPS`` proxies, from
    ``X-Forwarded-For`` as the nearest trusted proxy saw it (never the client's own claim)."""
    if request is None:
        return ""
    meta = getattr(request, "META", {})
    hops = settings.REFLECTLAB_TRUSTED_PROXY_HOPS
    if hops > 0:
        forwarded = [part.strip() for part in meta.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        forwarded = [part for part in forwarded if part]
        if len(forwarded) >= hops:
            return forwarded[-hops][:64]
    return str(meta.get("REMOTE_ADDR", ""))[:64]


def _ident(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()


def _keys(username: str, address: str) -> list[tuple[str, str, int]]:
    keys = [
        (
            SignInCounter.Scope.USER,
            _ident(username.casefold()),
            settings.REFLECTLAB_LOGIN_MAX_FAILURES,
        )
    ]
    if address:
        keys.append(
            (
                SignInCounter.Scope.ADDRESS,
                _ident(address),
                settings.REFLECTLAB_LOGIN_MAX_FAILURES_PER_IP,
            )
        )
    return keys


def _window() -> tuple[int, int]:
    length = settings.REFLECTLAB_LOGIN_WINDOW_SECONDS
    now = time.time()
    return int(now // length), int(length - now % length) + 1


def signin_attempt_start(*, username: str, address: str) -> Verdict:
    """Count one attempt, or refuse it when the username or the address is over its limit."""
    window, until_next = _window()
    keys = _keys(username, address)
    with transaction.atomic():
        SignInCounter.objects.bulk_create(
            [SignInCounter(scope=s, ident=i, window=window) for s, i, _ in keys],
            ignore_conflicts=True,
        )
        for scope, ident, limit in keys:  # always user, then address: no lock cycles
            SignInCounter.objects.select_for_update().get(scope=scope, ident=ident, window=window)
            recent = SignInCounter.objects.filter(
                scope=scope, ident=ident, window__in=[window - 1, window]
            ).aggregate(n=Sum("attempts"))["n"]
            if recent >= limit:
                return Verdict(allowed=False, retry_after=until_next)
        for scope, ident, _ in keys:
            SignInCounter.objects.filter(scope=scope, ident=ident, window=window).update(
                attempts=F("attempts") + 1
            )
    SignInCounter.objects.filter(window__lt=window - 1).delete()
    return Verdict(allowed=True)


def signin_succeeded(*, username: str, address: str) -> None:
    """A right password: forget the username's failures, give the address its attempt back."""
    window, _ = _window()
    keys = _keys(username, address)
    scope, ident, _ = keys[0]
    SignInCounter.objects.filter(scope=scope, ident=ident).delete()
    for scope, ident, _ in keys[1:]:
        SignInCounter.objects.filter(
            scope=scope, ident=ident, window=window, attempts__gt=0
        ).update(attempts=F("attempts") - 1)
