from rest_framework.pagination import CursorPagination, PageNumberPagination


class Pagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


class IdCursorPagination(CursorPagination):
    """Keyset pages in id order for lists that grow to millions of rows.

    Every page costs one index range scan (``id > last seen``), however deep;
    page numbers would COUNT the whole list and OFFSET past every earlier row.
    Follow ``next`` / ``previous``; there is no ``count``.
    """

    ordering = "id"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
