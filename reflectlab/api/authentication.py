"""The API's token authentication (kept apart from the views: DRF imports it from settings)."""

from __future__ import annotations

from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication

from reflectlab.core.tokens import token_is_expired


class ExpiringTokenAuthentication(TokenAuthentication):
    """``Authorization: Token …``, refused once ``REFLECTLAB_TOKEN_TTL_DAYS`` have passed."""

    def authenticate_credentials(self, key):
        user, token = super().authenticate_credentials(key)
        if token_is_expired(token):
            raise exceptions.AuthenticationFailed(
                "The token has expired. Ask POST auth/token for a new one."
            )
        return user, token
