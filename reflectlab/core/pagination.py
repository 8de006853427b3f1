"""One page of a list for the server-rendered pages (the API pages with ``api.pagination``)."""

from __future__ import annotations

from django.core.paginator import Page, Paginator
from django.http import HttpRequest

PER_PAGE = 50


def page_of(request: HttpRequest, items, *, per_page: int = PER_PAGE) -> Page:
    """``?page=N`` of ``items``; a missing or malformed number is page 1, one past
    the end the last page (``Paginator.get_page``), so a stale link still answers."""
    return Paginator(items, per_page).get_page(request.GET.get("page"))
