"""Status moves: new → open → waiting on customer → resolved → closed, with reopen. Each move
is a ``TicketEvent`` and moves the clocks (``sla``); resolving publishes ``ticket.resolved``."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.accounts.models import User
from apps.core import events
from apps.core.exceptions import ValidationFailed
from apps.core.text import text_check

from ..enums import EventKind, TicketStatus
from ..exceptions import NotAllowed, ReopenRefused, TransitionRefused
from ..history import event_add, events_add_many
from ..locks import lock_ticket
from ..models import ComplaintSettings, Ticket
from ..notify import resolved_email_queue
from .sla import clock_pause, clock_restart, clock_resume, resolution_record

S = TicketStatus
MOVES: dict[str, set[str]] = {
    S.NEW: {S.OPEN, S.WAITING, S.RESOLVED},
    S.OPEN: {S.WAITING, S.RESOLVED},
    S.WAITING: {S.OPEN, S.RESOLVED},
    S.RESOLVED: {S.CLOSED, S.OPEN},
    S.CLOSED: {S.OPEN},
}


def reopen_window_open(*, ticket: Ticket, now: dt.datetime) -> bool:
    """Members may reopen (or write back to) a ticket resolved at most ``reopen_days`` ago."""
    if ticket.resolved_at is None:
        return ticket.status not in (S.RESOLVED, S.CLOSED)
    days = ComplaintSettings.get().reopen_days
    return now <= ticket.resolved_at + dt.timedelta(days=days)


def status_move(
    *, ticket: Ticket, to: str, now: dt.datetime, actor=None, resume: bool = True
) -> None:
    """Move a locked ticket to ``to`` with its clock effects; the caller saves the ticket."""
    old = ticket.status
    if to == old:
        return
    if to not in MOVES.get(old, set()):
        raise TransitionRefused(
            _("A ticket that is %(old)s cannot become %(new)s.")
            % {"old": S(old).label.lower(), "new": S(to).label.lower()}
        )
    if to == S.WAITING:
        clock_pause(ticket=ticket, now=now, actor=actor)
    elif old == S.WAITING and resume:
        clock_resume(ticket=ticket, now=now, actor=actor)
    if to == S.RESOLVED:
        resolution_record(ticket=ticket, now=now)
        ticket.resolved_at = now
        events.publish("ticket.resolved", ticket_id=ticket.pk, customer_id=ticket.customer_id)
        resolved_email_queue(ticket_id=ticket.pk)
    elif to == S.CLOSED:
        ticket.closed_at = now
    elif old in (S.RESOLVED, S.CLOSED):
        clock_restart(ticket=ticket, now=now)
        ticket.reopened_count += 1
        ticket.resolved_at = ticket.closed_at = None
        ticket.rated_at = None
    ticket.status = to
    event_add(ticket=ticket, kind=EventKind.STATUS, at=now, actor=actor, to=to, **{"from": old})


@transaction.atomic
def ticket_status_set(
    *, ticket: Ticket, actor: User, status: str, at: dt.datetime | None = None
) -> Ticket:
    """Staff move a ticket (staff may reopen at any time)."""
    if not actor.has_perm("complaints.work_ticket"):
        raise NotAllowed()
    if status not in S.values:
        raise ValidationFailed(_("Unknown status."), field="status")
    now = at or timezone.now()
    locked = lock_ticket(ticket_id=ticket.pk)
    reopening = locked.status in (S.RESOLVED, S.CLOSED) and status == S.OPEN
    status_move(ticket=locked, to=status, now=now, actor=actor)
    if reopening:
        event_add(ticket=locked, kind=EventKind.REOPENED, at=now, actor=actor, by="staff")
    locked.save()
    return locked


@transaction.atomic
def ticket_reopen_by_member(*, ticket: Ticket, at: dt.datetime | None = None) -> Ticket:
    now = at or timezone.now()
    locked = lock_ticket(ticket_id=ticket.pk)
    if locked.status not in (S.RESOLVED, S.CLOSED) or not reopen_window_open(
        ticket=locked, now=now
    ):
        raise ReopenRefused()
    status_move(ticket=locked, to=S.OPEN, now=now)
    event_add(ticket=locked, kind=EventKind.REOPENED, at=now, by="customer")
    locked.save()
    return locked


@transaction.atomic
def ticket_rate(
    *, ticket: Ticket, score: int, comment: str = "", at: dt.datetime | None = None
) -> Ticket:
    """The member rates the resolution 1–5 (CSAT); rating again changes it."""
    if not isinstance(score, int) or not 1 <= score <= 5:
        raise ValidationFailed(_("Choose a rating from 1 to 5."), field="score")
    comment = comment.strip()[:1000]
    text_check(comment=comment, multiline=["comment"])
    now = at or timezone.now()
    locked = lock_ticket(ticket_id=ticket.pk)
    if locked.status not in (S.RESOLVED, S.CLOSED):
        raise TransitionRefused(_("Only a resolved complaint can be rated."))
    locked.satisfaction = score
    locked.satisfaction_comment = comment
    locked.rated_at = now
    locked.save(update_fields=["satisfaction", "satisfaction_comment", "rated_at", "updated_at"])
    event_add(ticket=locked, kind=EventKind.RATED, at=now, score=score)
    return locked


def tickets_auto_close(*, now: dt.datetime | None = None) -> int:
    """Close tickets resolved more than ``auto_close_days`` ago, set-based."""
    now = now or timezone.now()
    days = ComplaintSettings.get().auto_close_days
    with transaction.atomic():
        due = Ticket.objects.filter(
            status=S.RESOLVED, resolved_at__lte=now - dt.timedelta(days=days)
        )
        ids = list(due.select_for_update(skip_locked=True).values_list("pk", flat=True))
        Ticket.objects.filter(pk__in=ids).update(status=S.CLOSED, closed_at=now, updated_at=now)
        events_add_many(
            ticket_ids=ids, kind=EventKind.STATUS, at=now, to=S.CLOSED, **{"from": S.RESOLVED}
        )
    return len(ids)
