"""Reads for the other layers (API, portal, dashboard): look-ups by public keys."""

from django.utils.translation import gettext as _

from apps.core.exceptions import ValidationFailed

from .exceptions import TicketNotFound
from .models import Category, Ticket


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
