from .exceptions import TicketNotFound
from .models import Ticket


def lock_ticket(*, ticket_id: int) -> Ticket:
    """The ticket, row-locked, with what the clocks need."""
    ticket = (
        Ticket.objects.select_for_update(of=("self",))
        .select_related("sla_policy__calendar", "customer")
        .filter(pk=ticket_id)
        .first()
    )
    if ticket is None:
        raise TicketNotFound()
    return ticket
