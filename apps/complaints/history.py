"""The ticket's history rows (``TicketEvent``): written by the services, in their transaction."""

import datetime as dt

from apps.core.db import bulk_insert

from .models import Ticket, TicketEvent


def event_add(*, ticket: Ticket, kind: str, at: dt.datetime, actor=None, **data) -> TicketEvent:
    return TicketEvent.objects.create(
        ticket=ticket,
        kind=kind,
        at=at,
        actor=actor if getattr(actor, "pk", None) else None,
        data=data,
    )


def events_add_many(*, ticket_ids: list[int], kind: str, at: dt.datetime, **data) -> None:
    """One history row per ticket, in one statement (the SLA sweep)."""
    bulk_insert(
        TicketEvent, [TicketEvent(ticket_id=i, kind=kind, at=at, data=data) for i in ticket_ids]
    )
