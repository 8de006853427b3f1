"""One-time set-password links for invited users (Django's password-reset tokens).

``PasswordResetTokenGenerator`` semantics: the token is an HMAC of the
invite's ``issued_at`` and the user's password hash and last login, so it is
refused once the password is set (the hash changes), once the manager invites
again (``issued_at`` changes), after ``REFLECTLAB_INVITE_TTL_SECONDS``, or when
any character is changed. It is never stored.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.utils.crypto import constant_time_compare
from django.utils.http import base36_to_int

from reflectlab.projects.models import Invite


class InviteTokenGenerator(PasswordResetTokenGenerator):
    key_salt = "reflectlab.projects.tokens.InviteTokenGenerator"

    def _make_hash_value(self, invite: Invite, timestamp: int) -> str:  # type: ignore[override]
        user = invite.user
        login = "" if user.last_login is None else user.last_login.replace(microsecond=0)
        # Microseconds kept (PostgreSQL and SQLite store them): a re-invite within
        # the same second must still change the token.
        issued = invite.issued_at.isoformat()
        return (
            f"{invite.pk}:{issued}:{user.pk}:{user.password}:{login}:{user.is_active}:{timestamp}"
        )

    def check_token(self, invite: Invite | None, token: str | None) -> bool:  # type: ignore[override]
        """Django's check with the invite's own lifetime instead of PASSWORD_RESET_TIMEOUT."""
        if not (invite and token) or invite.accepted_at is not None:
            return False
        try:
            ts_b36, _ = token.split("-")
            ts = base36_to_int(ts_b36)
        except ValueError:
            return False
        for secret in [self.secret, *self.secret_fallbacks]:
            if constant_time_compare(self._make_token_with_timestamp(invite, ts, secret), token):
                break
        else:
            return False
        age = self._num_seconds(self._now()) - ts
        return age <= settings.REFLECTLAB_INVITE_TTL_SECONDS


invite_tokens = InviteTokenGenerator()
