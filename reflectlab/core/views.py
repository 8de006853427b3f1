from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import NON_FIELD_ERRORS
from django.db import connection
from django.http import HttpRequest, HttpResponseBadRequest, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from reflectlab.celery import app
from reflectlab.core.backends import THROTTLED_ATTR
from reflectlab.core.forms import TokenActionForm
from reflectlab.core.models import ApiToken
from reflectlab.core.tokens import (
    token_expires_at,
    token_is_expired,
    token_issue,
    token_revoke,
    token_rotate,
    tokens_of,
)


@login_required
@require_GET
def home(request: HttpRequest):
    return redirect("projects:list")


def _database_status() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any failure is a status, not a crash
        return f"error: {type(exc).__name__}"
    return "ok"


def _broker_status() -> str:
    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception as exc:
        return f"error: {type(exc).__name__}"
    return "ok"


@never_cache
@require_GET
def healthz(request: HttpRequest):
    """For load balancers: 200 when the database and the broker answer, else 503."""
    status = {"database": _database_status(), "broker": _broker_status()}
    healthy = all(value == "ok" for value in status.values())
    broker = settings.CELERY_BROKER_URL.split("://", 1)[0]
    return JsonResponse(
        {"status": "ok" if healthy else "degraded", **status, "broker_transport": broker},
        status=200 if healthy else 503,
    )


class LoginView(auth_views.LoginView):
    """Django's login page; a throttled attempt says so and answers 429."""

    def form_invalid(self, form):
        retry_after = getattr(self.request, THROTTLED_ATTR, None)
        if retry_after is None:
            return super().form_invalid(form)
        minutes = max(1, round(retry_after / 60))
        form.errors[NON_FIELD_ERRORS] = form.error_class(
            [f"Too many failed sign-ins. Try again in about {minutes} minutes."]
        )
        response = super().form_invalid(form)
        response.status_code = 429
        response["Retry-After"] = str(retry_after)
        return response


@login_required
@require_http_methods(["GET", "POST"])
def api_token(request: HttpRequest):
    """The signed-in user's API tokens: create one (its key shown this once), replace
    them all with one, revoke one or all. See ``core.tokens``."""
    new_key = new_pk = None
    if request.method == "POST":
        form = TokenActionForm(request.POST)
        if not form.is_valid():
            return HttpResponseBadRequest("Unknown action.")
        action, one = form.cleaned_data["action"], form.cleaned_data["token"]
        if action == "revoke":
            token = ApiToken.objects.filter(user=request.user, pk=one).first() if one else None
            if one and token is None:
                messages.error(request, "That token was already revoked.")
            elif revoked := token_revoke(user=request.user, token=token):
                messages.success(
                    request, "The token was revoked." if one else f"{revoked} token(s) revoked."
                )
            return redirect("api-token-page")
        issued = (token_rotate if action == "rotate" else token_issue)(user=request.user)
        new_key, new_pk = issued.key, issued.token.pk
    tokens = [
        {
            "token": t,
            "expires_at": token_expires_at(t),
            "expired": token_is_expired(t),
            "new": t.pk == new_pk,
        }
        for t in tokens_of(user=request.user)
    ]
    context = {"tokens": tokens, "new_key": new_key, "ttl_days": settings.REFLECTLAB_TOKEN_TTL_DAYS}
    return render(request, "registration/api_token.html", context)
