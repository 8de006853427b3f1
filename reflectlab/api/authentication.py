"""The API's token authentication (kept apart from the views: DRF imports it from settings)."""

from __future__ import annotations

from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication

from reflectlab.core.tokens import token_find, token_is_expired, token_touch


class ExpiringTokenAuthentication(TokenAuthentication):
    """``Authorization: Token …``: the key's digest looked up (``core.tokens``), refused
    once ``REFLECTLAB_TOKEN_TTL_DAYS`` have passed. ``request.auth`` is the ``ApiToken``.

    DRF's header parsing (``Token`` keyword, one key, no spaces) is kept; the
    lookup is ours, so DRF's plaintext ``authtoken`` table is never read.
    """

    def authenticate_credentials(self, key):
        token = token_find(key=key)
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid token.")
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        if token_is_expired(token):
            raise exceptions.AuthenticationFailed(
                "The token has expired. Ask POST auth/token for a new one."
            )
        token_touch(token)
        return token.user, token
