"""One error body for the whole API: ``{"error": {"status", "code", "detail", "fields"?}}``.

A ``Conflict`` (409) may add ``"current"``: the object as the server has it now.
"""

from __future__ import annotations

import logging

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DatabaseError, DataError
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from reflectlab.core.errors import (
    CONFLICT_STATUS,
    Conflict,
    conflict_body,
    database_error_response,
)

logger = logging.getLogger(__name__)


def exception_handler(exc, context):
    if isinstance(exc, Conflict):  # the domain's 409, one shape with the UI's (core.errors)
        return Response(conflict_body(exc), status=CONFLICT_STATUS)
    # Inputs are bounded where they are validated (reflectlab.core.ids); a value
    # the database still refuses (an overflowing number, a string too long) is
    # the client's error — but the driver's message stays in the log.
    if isinstance(exc, OverflowError | DataError):
        logger.warning("refused by the database: %s", exc)
        exc = exceptions.ValidationError(
            {"non_field_errors": ["A value is out of range or cannot be stored."]}
        )
    elif isinstance(exc, DatabaseError):
        request = context.get("request")
        logger.error(
            "database error on %s %s",
            getattr(request, "method", "?"),
            getattr(request, "path", "?"),
            exc_info=exc,
        )
        code, detail = database_error_response(exc)
        body = {"status": code, "code": "database_error", "detail": detail}
        return Response({"error": body}, status=code)
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    body = {"status": response.status_code, "code": getattr(exc, "default_code", "error")}
    if isinstance(exc, exceptions.ValidationError):
        body["detail"] = "Invalid input."
        body["fields"] = response.data
    else:
        body["detail"] = (
            response.data.get("detail", response.data)
            if isinstance(response.data, dict)
            else response.data
        )
    if response.status_code == status.HTTP_404_NOT_FOUND:
        body["detail"] = "Not found."
    response.data = {"error": body}
    return response
