"""The authentication backend: Django's ModelBackend behind the sign-in throttle.

Every sign-in — the login page, the admin and ``POST /api/v1/auth/token`` — goes
through ``django.contrib.auth.authenticate``, so throttling here covers them all.
"""

from __future__ import annotations

from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied

from reflectlab.core.throttle import client_address, signin_attempt_start, signin_succeeded

# The request attribute that tells the view an attempt was refused, and for how long.
THROTTLED_ATTR = "signin_retry_after"


class ThrottledModelBackend(ModelBackend):
    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None:
            username = kwargs.get("username")  # ModelBackend's USERNAME_FIELD form
        if username is None or password is None:
            return None
        address = client_address(request)
        verdict = signin_attempt_start(username=str(username), address=address)
        if not verdict.allowed:
            if request is not None:
                setattr(request, THROTTLED_ATTR, verdict.retry_after)
            # PermissionDenied stops authenticate() from trying other backends.
            raise PermissionDenied("Too many failed sign-ins.")
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is not None:
            signin_succeeded(username=str(username), address=address)
        return user
