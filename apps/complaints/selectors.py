"""Reads for the other layers (API, portal, dashboard): look-ups by public keys."""

import datetime as dt

from django.db.models import Count, Q, QuerySet
from django.utils.translation import gettext as _

from apps.core.exceptions import ValidationFailed

from .exceptions import TicketNotFound
from .models import Category, Ticket


def categories_labelled(*, active_only: bool = True, members_only: bool = False) -> list[Category]:
    """Categories with ``label`` ("Delivery › Late": a child under its parent's name), sorted by
    label: the one list the staff forms, the queue filter and the member form use."""
    rows = Category.objects.select_related("parent")
    if active_only:
        rows = rows.filter(active=True)
    if members_only:
        rows = rows.filter(member_visible=True)
    out = list(rows)
    for c in out:
        c.label = f"{c.parent.name} › {c.name}" if c.parent_id else str(c.name)
    return sorted(out, key=lambda c: c.label)


def category_get(*, code: str) -> Category:
    category = Category.objects.filter(code=code, active=True).first()
    if category is None:
        raise ValidationFailed(
            _("No complaint category %(code)s.") % {"code": code}, field="category"
        )
    return category


def ticket_get(*, reference: str) -> Ticket:
    ticket = (
        Ticket.objects.select_related("customer", "category")
        .filter(reference=reference.upper())
        .first()
    )
    if ticket is None:
        raise TicketNotFound()
    return ticket


def tickets_open(*, as_of: dt.datetime) -> QuerySet[Ticket]:
    """Tickets opened by ``as_of`` and neither resolved nor closed by then (so a past date reads
    as it was on that day, give or take a reopening since)."""
    return Ticket.objects.filter(
        Q(resolved_at__isnull=True) | Q(resolved_at__gt=as_of),
        Q(closed_at__isnull=True) | Q(closed_at__gt=as_of),
        created_at__lte=as_of,
    )


def open_tickets_by_customer(*, as_of: dt.datetime) -> dict[int, tuple[int, int]]:
    """Per customer with an open ticket at ``as_of``: (open tickets, of them past their SLA)."""
    breached = Q(resolution_breached_at__lte=as_of) | Q(first_response_breached_at__lte=as_of)
    rows = (
        tickets_open(as_of=as_of)
        .values("customer_id")
        .annotate(n=Count("pk"), late=Count("pk", filter=breached))
    )
    return {r["customer_id"]: (r["n"], r["late"]) for r in rows}
