from rest_framework.pagination import CursorPagination as BaseCursorPagination


class CursorPagination(BaseCursorPagination):
    """Stable pages under concurrent inserts. Subclasses order by a public, non-id column: the
    cursor encodes the position value, and database ids never leave the system."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
    ordering = ("-created_at",)


class CustomerCursorPagination(CursorPagination):
    # Newest members first; member_number breaks ties so the order is total.
    ordering = ("-joined_at", "member_number")
