"""Response policies that hold for every view: no caching of private pages, no
database driver text in front of users."""

from __future__ import annotations

import logging

from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.utils.cache import patch_cache_control

from reflectlab.core.errors import database_error_response

logger = logging.getLogger(__name__)

API_PREFIX = "/api/"


class NoStoreMiddleware:
    """``Cache-Control: no-store, private`` on every response a view made.

    The API and the pages carry project data; no browser or proxy cache may
    keep them (a shared machine's back button, a caching proxy). A view that
    set its own ``Cache-Control`` keeps it. Static files never reach this
    middleware: WhiteNoise answers them first, with long-lived caching. The
    policy does not depend on who is signed in, so it never reads the session
    (which may be what failed).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not response.has_header("Cache-Control"):
            patch_cache_control(response, no_store=True, private=True)
        return response


class DatabaseErrorMiddleware:
    """A database failure becomes a generic message; the details go to the log.

    Connection trouble (OperationalError, InterfaceError) answers 503 — try again —
    anything else 500. The API answers in its error shape (see ``reflectlab.api.errors``,
    which handles errors raised inside DRF views the same way).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, DatabaseError):
            return None
        logger.error("database error on %s %s", request.method, request.path, exc_info=exception)
        status, detail = database_error_response(exception)
        if request.path.startswith(API_PREFIX):
            body = {"error": {"status": status, "code": "database_error", "detail": detail}}
            return JsonResponse(body, status=status)
        # No request context: the page must not touch the session or the user.
        html = render_to_string("error.html", {"status": status, "detail": detail})
        return HttpResponse(html, status=status)
