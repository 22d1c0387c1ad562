"""The SLA sweep (every few minutes): breaches set-based, then the escalations that fall due."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from ..enums import ACTIVE_STATUSES
from ..models import Ticket
from ..notify import escalation_email_queue
from .sla import breaches_sweep, escalation_due

ESCALATION_BATCH = 500


def sla_sweep(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Record missed targets (one UPDATE per clock, whatever the number of tickets) and fire the
    escalation levels due now (an index range on ``next_escalation_at``; each ticket under its
    own lock, skipping one another run holds). Safe to run twice or concurrently."""
    now = now or timezone.now()
    with transaction.atomic():
        counts = breaches_sweep(now=now)
    escalated = 0
    due = Ticket.objects.filter(next_escalation_at__lte=now, status__in=ACTIVE_STATUSES)
    for pk in due.order_by("next_escalation_at").values_list("pk", flat=True)[:ESCALATION_BATCH]:
        with transaction.atomic():
            ticket = (
                Ticket.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("sla_policy__calendar")
                .filter(pk=pk, next_escalation_at__lte=now)
                .first()
            )
            if ticket is None:
                continue
            fired = escalation_due(ticket=ticket, now=now)
            ticket.save(update_fields=["next_escalation_at", "escalation_level", "updated_at"])
            for level in fired:
                escalation_email_queue(ticket_id=ticket.pk, level_id=level.pk)
            escalated += len(fired)
    return {**counts, "escalated": escalated}
