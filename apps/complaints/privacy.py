"""The complaints app's part of "download my data", erasure and merging (``apps.core.privacy``;
registered in ``ComplaintsConfig.ready()``).

Export ``complaints``: each ticket (reference, category, channel, status, subject, description,
clocks and times, rating) with every message (staff's internal notes too: the right of access
covers what is recorded about the person), its history, its attachments' names and sizes, and
the compensation given.

Erasure (invariant 10) keeps each ticket's figures (category, clocks, breaches, compensation
value: the SLA and cost reports stay true) and removes what the person or staff wrote about them:
subject, description, every message and the rating comment read "(erased)", attachments are
deleted with their files. Running it twice changes nothing more.

Merge: the merged-away member's tickets move to the survivor.
"""

from typing import Any

from django.db import transaction

from apps.customers.models import Customer
from apps.customers.services.export import row_of
from apps.customers.suppression import ERASED_TEXT

from .models import Attachment, Compensation, Ticket, TicketMessage

_TICKET_INTERNAL = ("customer", "source_ref")
_MESSAGE_INTERNAL = ("ticket", "email_message_id")


def export_tickets(*, customer: Customer) -> list[dict]:
    tickets = (
        Ticket.objects.filter(customer=customer)
        .select_related("category", "order")
        .prefetch_related("messages", "events", "attachments", "compensations")
        .order_by("created_at", "id")
    )
    return [
        row_of(t, exclude=_TICKET_INTERNAL)
        | {
            "category_name": str(t.category.name),
            "order_external_id": t.order.external_id if t.order_id else None,
            "messages": [row_of(m, exclude=_MESSAGE_INTERNAL) for m in t.messages.all()],
            "events": [row_of(e, exclude=("ticket",)) for e in t.events.all()],
            "attachments": [row_of(a, exclude=("ticket", "file")) for a in t.attachments.all()],
            "compensation": [
                row_of(c, exclude=("ticket", "transaction", "coupon"))
                for c in t.compensations.all()
            ],
        }
        for t in tickets
    ]


def erase(*, customer: Customer) -> None:
    tickets = Ticket.objects.filter(customer=customer)
    TicketMessage.objects.filter(ticket__in=tickets).exclude(body=ERASED_TEXT).update(
        body=ERASED_TEXT
    )
    tickets.exclude(subject=ERASED_TEXT).update(
        subject=ERASED_TEXT, description=ERASED_TEXT, satisfaction_comment=""
    )
    Compensation.objects.filter(ticket__in=tickets).exclude(reason=ERASED_TEXT).update(
        reason=ERASED_TEXT
    )
    attachments = list(Attachment.objects.filter(ticket__in=tickets))
    names = [a.file.name for a in attachments]
    Attachment.objects.filter(pk__in=[a.pk for a in attachments]).delete()
    if names:
        storage = Attachment._meta.get_field("file").storage
        transaction.on_commit(lambda: [storage.delete(name) for name in names])


def merge(*, source: Customer, target: Customer, actor: Any) -> dict[str, int]:
    return {"tickets": Ticket.objects.filter(customer=source).update(customer=target)}
