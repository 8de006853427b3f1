"""Domain errors that every interface answers the same way.

``Conflict`` is the one "someone else changed it first" error (HTTP 409). The
API's exception handler and the UI's JSON answers both render it with
``conflict_body``: ``{"error": {"status": 409, "code", "detail"}, "current"?}``
where ``current`` is the object as the server has it now, when the raiser
knows it, so a client can show it beside its own unsaved input.

Database errors are answered with a fixed sentence (``database_error_response``,
``error_text``): the driver's message carries table and constraint names,
values, hosts and users, so it goes to the log only.
"""

from __future__ import annotations

from typing import Any

from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import JsonResponse

CONFLICT_STATUS = 409


class Conflict(Exception):
    """Someone else changed the object first; nothing was written (HTTP 409).

    ``current`` is the object now (for the UI to re-render), ``state`` its
    client-facing dict (for the 409 body). Both are optional.
    """

    code = "conflict"

    def __init__(self, detail: str, *, current: Any = None, state: dict | None = None):
        super().__init__(detail)
        self.detail = detail
        self.current = current
        self.state = state


class ClaimLost(Conflict):
    """The claim is no longer held by this user (expired, released or not theirs)."""

    code = "claim_lost"


def conflict_body(exc: Conflict) -> dict[str, Any]:
    body: dict[str, Any] = {
        "error": {"status": CONFLICT_STATUS, "code": exc.code, "detail": exc.detail}
    }
    if exc.state is not None:
        body["current"] = exc.state
    return body


def conflict_response(exc: Conflict) -> JsonResponse:
    """The 409 for views that answer JSON (the workspace script)."""
    return JsonResponse(conflict_body(exc), status=CONFLICT_STATUS)


def database_error_response(exc: BaseException) -> tuple[int, str]:
    if isinstance(exc, OperationalError | InterfaceError):
        return 503, "The database is unavailable right now. Please try again in a moment."
    return 500, "The database could not complete this request. The error has been logged."


def error_text(exc: BaseException) -> str:
    """What a stored job error (import, export, run) may say about an exception.

    Database errors carry the driver's text (table names, constraint names,
    values, hosts): users see their class only, the log has the rest.
    """
    if isinstance(exc, DatabaseError):
        return f"Database error ({type(exc).__name__}); the details are in the server log."
    return str(exc)
