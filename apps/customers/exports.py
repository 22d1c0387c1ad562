"""Audited exports of customers and orders (invariant 8: every export has an audit event).

Each function picks the rows of its list's filters and hands them to
:func:`apps.core.services.export_audited`, which counts them, records the AuditEvent (actor,
filters, row count) and returns the header and a lazy row iterator: 100k rows never sit in
memory. The caller streams them (CSV) or writes them to a workbook.
"""

from apps.accounts.models import User
from apps.core.exports import XLSX_MAX_ROWS, ExportRows
from apps.core.services import export_audited

from .selectors import customer_list, order_list

__all__ = ["XLSX_MAX_ROWS", "ExportRows", "customers_export_rows", "orders_export_rows"]

CUSTOMER_EXPORT_FIELDS = [
    ("member_number", "member_number"),
    ("first_name", "first_name"),
    ("last_name", "last_name"),
    ("email", "email"),
    ("phone", "phone"),
    ("birth_date", "birth_date"),
    ("gender", "gender"),
    ("city", "city"),
    ("region", "region"),
    ("preferred_language", "preferred_language"),
    ("preferred_channel", "preferred_channel"),
    ("store__code", "store"),
    ("joined_at", "joined_at"),
    ("source", "source"),
]
ORDER_EXPORT_FIELDS = [
    ("store__code", "store"),
    ("external_id", "external_id"),
    ("customer__member_number", "member_number"),
    ("placed_at", "placed_at"),
    ("channel", "channel"),
    ("total", "total"),
    ("discount", "discount"),
    ("coupon_code", "coupon_code"),
    ("refunded_amount", "refunded_amount"),
    ("status", "status"),
]


def customers_export_rows(
    *,
    actor: User | None,
    fmt: str,
    query: str = "",
    tag: str = "",
    store: str = "",
    source: str = "",
    portal: str = "",
    ordering: str = "-joined",
) -> ExportRows:
    """Customers matching the customer-list filters, with their audit event."""
    filters = {
        "q": query,
        "tag": tag,
        "store": store,
        "source": source,
        "portal": portal,
        "sort": ordering,
    }
    qs = customer_list(
        query=query, tag=tag, store=store, source=source, portal=portal, ordering=ordering
    )
    # Column names match the import columns (export → edit → re-import works for customers).
    return export_audited(
        qs=qs.select_related(None),
        columns=CUSTOMER_EXPORT_FIELDS,
        fmt=fmt,
        actor=actor,
        action="export.customers",
        filters=filters,
    )


def orders_export_rows(
    *, actor: User | None, fmt: str, query: str = "", store: str = ""
) -> ExportRows:
    """Orders matching the order-list filters, with their audit event."""
    qs = order_list(query=query, store=store).select_related(None)
    return export_audited(
        qs=qs,
        columns=ORDER_EXPORT_FIELDS,
        fmt=fmt,
        actor=actor,
        action="export.orders",
        filters={"q": query, "store": store},
    )
