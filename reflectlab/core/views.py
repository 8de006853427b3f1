from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.shortcuts import redirect
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from reflectlab.celery import app


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
