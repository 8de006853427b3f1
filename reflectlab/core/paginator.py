"""Page numbers for web lists that may hold millions of rows."""

from __future__ import annotations

from functools import cached_property

from django.core.paginator import Paginator


class BoundedPaginator(Paginator):
    """A Paginator that counts at most ``MAX_PAGES`` pages of rows.

    ``Paginator`` runs ``COUNT(*)`` over the whole filtered list and pages with
    OFFSET, both linear in the list's length (~0.7 s for page 1000 of a
    filtered 1M-trace list). This one counts only up to the bound (a LIMITed
    subquery) and never offsets past it, so any page costs at most the bound.
    Past the bound the page tells you to narrow the filters (``capped``);
    the API's keyset cursor walks any depth.
    """

    MAX_PAGES = 200

    @cached_property
    def count(self) -> int:
        return self.object_list.order_by().values("pk")[: self.limit + 1].count()

    @property
    def limit(self) -> int:
        """The most rows the pages reach."""
        return self.MAX_PAGES * self.per_page

    @property
    def capped(self) -> bool:
        """True when the list holds more rows than the pages reach."""
        return self.count > self.limit

    @cached_property
    def num_pages(self) -> int:
        return min(super().num_pages, self.MAX_PAGES)

    def page(self, number):
        """Offset over primary keys only, then load just that page's rows.

        OFFSET on the full query would join (e.g. the prompt) for every row it
        skips; on the keys alone an index serves it.
        """
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        keys = list(self.object_list.values_list("pk", flat=True)[bottom : bottom + self.per_page])
        position = {key: i for i, key in enumerate(keys)}
        rows = sorted(self.object_list.filter(pk__in=keys), key=lambda row: position[row.pk])
        return self._get_page(rows, number, self)
