"""Reads for the other layers (API, portal, dashboard): look-ups by public keys."""

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
