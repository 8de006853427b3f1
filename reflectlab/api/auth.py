"""API authentication: expiring tokens (stored as digests), issued by ``POST auth/token``
and revoked by ``DELETE``."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from reflectlab.core.backends import THROTTLED_ATTR
from reflectlab.core.models import ApiToken
from reflectlab.core.tokens import token_expires_at, token_issue, token_revoke

TokenOut = inline_serializer(
    "Token", {"token": serializers.CharField(), "expires_at": serializers.DateTimeField()}
)


class TokenApi(APIView):
    """Exchange a username and password for a new API token (``Authorization: Token …``),
    or revoke a token (``DELETE``).

    Every sign-in issues a **new** token (keys are stored as digests, so an
    earlier one cannot be shown again); earlier tokens keep working until they
    expire after ``REFLECTLAB_TOKEN_TTL_DAYS`` days or are revoked. ``DELETE``
    sent with a token revokes that token; sent with a session cookie, all of
    the caller's tokens. Sign-ins are throttled per username and per client
    address (429 with ``Retry-After`` when over the limit).
    """

    parser_classes = [JSONParser, FormParser, MultiPartParser]

    def get_permissions(self):
        if self.request.method == "DELETE":
            return [IsAuthenticated()]
        return [AllowAny()]

    def perform_authentication(self, request):
        # Signing in needs no credentials: an expired token or a session cookie
        # sent along must not stand in the way of getting a new token.
        if request.method != "POST":
            super().perform_authentication(request)

    @extend_schema(request=AuthTokenSerializer, responses=TokenOut, auth=[])
    def post(self, request):
        serializer = AuthTokenSerializer(data=request.data, context={"request": request})
        if not serializer.is_valid():
            retry_after = getattr(request, THROTTLED_ATTR, None)
            if retry_after is not None:
                raise exceptions.Throttled(
                    wait=retry_after, detail="Too many failed sign-ins; try again later."
                )
            raise exceptions.ValidationError(serializer.errors)
        issued = token_issue(user=serializer.validated_data["user"])
        return Response({"token": issued.key, "expires_at": token_expires_at(issued.token)})

    @extend_schema(request=None, responses={204: None})
    def delete(self, request):
        token = request.auth if isinstance(request.auth, ApiToken) else None
        token_revoke(user=request.user, token=token)
        return Response(status=status.HTTP_204_NO_CONTENT)
