"""Reads for the member's own tickets (portal, API) and the customer timeline."""

from django.db.models import Q, QuerySet
from django.urls import reverse
from django.utils.formats import date_format
from django.utils.timezone import localtime
from django.utils.translation import gettext as _

from apps.core.formatting import choice_label, money
from apps.core.timeline import TimelineEvent
from apps.customers.models import Customer, Order

from .enums import MessageKind, TicketStatus
from .exceptions import TicketNotFound
from .models import Attachment, Category, Ticket, TicketMessage
from .selectors import categories_labelled


def ticket_list_for_member(*, customer: Customer) -> QuerySet[Ticket]:
    return (
        Ticket.objects.filter(customer=customer)
        .select_related("category")
        .order_by("-created_at", "-id")
    )


def ticket_get_for_member(*, customer: Customer, reference: str) -> Ticket:
    """The member's own ticket by reference; another member's is "not found" (invariant 9)."""
    ticket = (
        Ticket.objects.filter(customer=customer, reference=reference.upper())
        .select_related("category", "order__store")
        .first()
    )
    if ticket is None:
        raise TicketNotFound()
    return ticket


def public_messages(*, ticket: Ticket) -> QuerySet[TicketMessage]:
    """What the member sees of the conversation: never an internal note."""
    return (
        ticket.messages.filter(kind=MessageKind.PUBLIC)
        .prefetch_related("attachments")
        .order_by("at", "id")
    )


def attachment_get_for_member(*, ticket: Ticket, pk: int) -> Attachment | None:
    """A file of the ticket the member may see: filed with it or on a public message."""
    return (
        Attachment.objects.filter(ticket=ticket, pk=pk)
        .filter(Q(message__isnull=True) | Q(message__kind=MessageKind.PUBLIC))
        .first()
    )


def ticket_attachments(*, ticket: Ticket) -> list[Attachment]:
    """The files filed with the ticket itself (not with a message)."""
    return list(ticket.attachments.filter(message__isnull=True))


def tickets_timeline_rows(*, customer: Customer) -> QuerySet[Ticket]:
    return Ticket.objects.filter(customer=customer)


def tickets_timeline(tickets: QuerySet[Ticket], *, customer: Customer) -> list[TimelineEvent]:
    """Complaints filed and resolved: one query."""
    events: list[TimelineEvent] = []
    for t in tickets.select_related("category"):
        url = reverse("dashboard:ticket-detail", kwargs={"reference": t.reference})
        events.append(
            TimelineEvent(
                at=t.created_at,
                kind="ticket",
                icon="life-preserver",
                title=_("Complaint %(reference)s filed: %(subject)s")
                % {"reference": t.reference, "subject": t.subject},
                detail=f"{t.category.name} · {choice_label(TicketStatus, t.status)}",
                url=url,
                extra={"status": t.status},
            )
        )
        if t.resolved_at and t.status in (TicketStatus.RESOLVED, TicketStatus.CLOSED):
            events.append(
                TimelineEvent(
                    at=t.resolved_at,
                    kind="ticket",
                    icon="check2-circle",
                    title=_("Complaint %(reference)s resolved") % {"reference": t.reference},
                    detail=(
                        _("Rated %(score)s/5") % {"score": t.satisfaction} if t.satisfaction else ""
                    ),
                    url=url,
                )
            )
    return events


def categories_for_members() -> list[Category]:
    """What a member can choose: active, member-visible categories."""
    return categories_labelled(members_only=True)


def recent_orders_for_member(*, customer: Customer, limit: int = 20) -> list[Order]:
    orders = list(
        Order.objects.filter(customer=customer)
        .select_related("store")
        .order_by("-placed_at")[:limit]
    )
    for o in orders:
        day = date_format(localtime(o.placed_at), "SHORT_DATE_FORMAT")
        o.label = f"{day} · {o.store.name} · {money(o.total)}"
    return orders
