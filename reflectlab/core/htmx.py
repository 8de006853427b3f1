"""htmx response helpers shared by every polled region.

A region that polls (``hx-trigger="every 1s"``) stops when the server answers
status 286 (htmx docs, "Polling"); django-htmx names that status
``HTMX_STOP_POLLING``. Views say *when* a poll is done, not how htmx spells it.
"""

from __future__ import annotations

from django.http import HttpResponse
from django_htmx.http import HTMX_STOP_POLLING

__all__ = ["HTMX_STOP_POLLING", "stop_polling"]


def stop_polling(response: HttpResponse, *, when: bool = True) -> HttpResponse:
    """Mark ``response`` as the last answer to an htmx poll when ``when`` holds."""
    if when:
        response.status_code = HTMX_STOP_POLLING
    return response
