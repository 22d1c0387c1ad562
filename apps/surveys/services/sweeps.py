"""Catching up on invitation e-mails whose delivery was lost.

Invitation e-mails normally go out when the outbox delivers ``survey.invited`` (after commit).
If that delivery is lost (a worker killed between commit and send, an event dropped by an
operator), the invitation stays ``email_status=queued``. The sweep picks those older than a few
minutes — long enough for the outbox to have had its chance — with one indexed query (the
partial index ``surveys_inv_email_queue_idx``), and sends each through ``invitation_email_send``,
which locks the row and sends only a still-queued one: a sweep racing the outbox, or another
sweep, sends nothing twice.
"""

import datetime as dt

from django.utils import timezone

from ..enums import EmailStatus
from ..models import Invitation
from .invitations import invitation_email_send

SWEEP_MIN_AGE = dt.timedelta(minutes=10)
SWEEP_LIMIT = 2000


def invitation_emails_sweep(
    *,
    now: dt.datetime | None = None,
    min_age: dt.timedelta = SWEEP_MIN_AGE,
    limit: int = SWEEP_LIMIT,
) -> dict[str, int]:
    """Send queued invitation e-mails created more than ``min_age`` ago, oldest first, at most
    ``limit`` per run (the next run takes the rest). Returns the count per resulting e-mail
    status (``sent``, ``suppressed``; a row another worker took first is not counted)."""
    now = now or timezone.now()
    due = list(
        Invitation.objects.filter(email_status=EmailStatus.QUEUED, created_at__lte=now - min_age)
        .order_by("id")
        .values_list("pk", flat=True)[:limit]
    )
    counts: dict[str, int] = {}
    for invitation_id in due:
        status = invitation_email_send(invitation_id=invitation_id, now=now)
        if status:
            counts[status] = counts.get(status, 0) + 1
    return counts
