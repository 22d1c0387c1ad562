import datetime as dt

from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.utils import timezone
from rest_framework.exceptions import NotFound
from rest_framework.pagination import Cursor
from rest_framework.pagination import CursorPagination as BaseCursorPagination


class CursorPagination(BaseCursorPagination):
    """Stable pages under concurrent inserts. Subclasses order by a public, non-id column: the
    cursor encodes the position value, and database ids never leave the system.

    A cursor comes from the client, so its position is checked against the ordering column
    before it reaches a query: a crafted one is the 404 ``invalid_cursor``, never a 500."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
    ordering = ("-created_at",)

    def paginate_queryset(self, queryset, request, view=None):
        self._model = queryset.model
        return super().paginate_queryset(queryset, request, view)

    def decode_cursor(self, request) -> Cursor | None:
        cursor = super().decode_cursor(request)
        if cursor is None or cursor.position is None:
            return cursor
        if not self._position_is_valid(cursor.position):
            raise NotFound(self.invalid_cursor_message)
        return cursor

    def _position_is_valid(self, position: str) -> bool:
        if "\x00" in position:
            return False
        ordering = self.ordering if isinstance(self.ordering, list | tuple) else [self.ordering]
        try:
            field = self._model._meta.get_field(ordering[0].lstrip("-"))
            value = field.to_python(position)
        except (FieldDoesNotExist, ValidationError, ValueError, OverflowError):
            return False
        return not (isinstance(value, dt.datetime) and timezone.is_naive(value))


class CustomerCursorPagination(CursorPagination):
    # Newest members first; member_number breaks ties so the order is total.
    ordering = ("-joined_at", "member_number")
