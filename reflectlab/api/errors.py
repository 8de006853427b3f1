"""One error body for the whole API: ``{"error": {"status", "code", "detail", "fields"?}}``.

A ``Conflict`` (409) may add ``"current"``: the object as the server has it now.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from reflectlab.core.errors import CONFLICT_STATUS, Conflict, conflict_body


def exception_handler(exc, context):
    if isinstance(exc, Conflict):  # the domain's 409, one shape with the UI's (core.errors)
        return Response(conflict_body(exc), status=CONFLICT_STATUS)
    # Inputs are bounded where they are validated (reflectlab.core.ids); a number
    # that still overflows the database's integer is the client's error, not ours.
    if isinstance(exc, OverflowError | DataError):
        exc = exceptions.ValidationError({"non_field_errors": ["A number is out of range."]})
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
