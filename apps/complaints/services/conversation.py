"""The conversation: staff replies and internal notes, the member's replies (portal or e-mail),
and the status moves they bring (first response, waiting on the customer, resumed clock)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.accounts.models import User
from apps.core.exceptions import ValidationFailed
from apps.core.text import text_check
from apps.core.uploads import CleanUpload

from ..enums import AuthorKind, EventKind, MessageKind, TicketChannel, TicketStatus
from ..exceptions import NotAllowed, TransitionRefused
from ..history import event_add
from ..locks import lock_ticket
from ..models import Ticket, TicketMessage
from ..notify import reply_email_queue
from .attachments import attachments_add
from .lifecycle import reopen_window_open, status_move
from .sla import clock_resume, first_response_record

BODY_MAX = 10_000


def _body(body: str) -> str:
    body = body.strip()
    if not body:
        raise ValidationFailed(_("The message is empty."), field="body")
    if len(body) > BODY_MAX:
        raise ValidationFailed(
            _("The message is longer than %(n)s characters.") % {"n": BODY_MAX}, field="body"
        )
    text_check(body=body, multiline=["body"])
    return body


@transaction.atomic
def staff_reply(
    *,
    ticket: Ticket,
    author: User,
    body: str,
    internal: bool = False,
    then: str | None = None,
    files: Sequence[CleanUpload] = (),
    at: dt.datetime | None = None,
) -> TicketMessage:
    """A public reply (e-mailed to the member after commit, shown in the portal) or an internal
    note (never shown to the member). A public reply stops the first-response clock and opens a
    new ticket; ``then`` moves the ticket on in the same step (waiting on the customer, or
    resolved)."""
    if not author.has_perm("complaints.work_ticket"):
        raise NotAllowed()
    body = _body(body)
    now = at or timezone.now()
    locked = lock_ticket(ticket_id=ticket.pk)
    if locked.status == TicketStatus.CLOSED and not internal:
        raise TransitionRefused(_("The ticket is closed; reopen it to reply."))
    message = TicketMessage.objects.create(
        ticket=locked,
        kind=MessageKind.INTERNAL if internal else MessageKind.PUBLIC,
        author_kind=AuthorKind.STAFF,
        author=author,
        via=TicketChannel.EMAIL if not internal else TicketChannel.PHONE,
        body=body,
        at=now,
    )
    attachments_add(ticket=locked, message=message, files=list(files), at=now)
    if not internal:
        first_response_record(ticket=locked, now=now, actor=author)
        if locked.status == TicketStatus.NEW:
            status_move(ticket=locked, to=TicketStatus.OPEN, now=now, actor=author)
        reply_email_queue(message_id=message.pk)
    if then:
        status_move(ticket=locked, to=then, now=now, actor=author)
    locked.save()
    return message


@transaction.atomic
def customer_reply(
    *,
    ticket: Ticket,
    body: str,
    via: str = TicketChannel.PORTAL,
    email_message_id: str | None = None,
    files: Sequence[CleanUpload] = (),
    at: dt.datetime | None = None,
) -> TicketMessage | None:
    """The member writes back. A ticket waiting on them opens again and its clock resumes; a
    resolved one reopens while the reopen window lasts. The same e-mail (Message-ID) delivered
    twice is one message: the second call returns None."""
    body = _body(body)
    now = at or timezone.now()
    locked = lock_ticket(ticket_id=ticket.pk)
    done = locked.status in (TicketStatus.RESOLVED, TicketStatus.CLOSED)
    if done and not reopen_window_open(ticket=locked, now=now):
        raise TransitionRefused(_("This complaint was closed; please file a new one."))
    try:
        with transaction.atomic():
            message = TicketMessage.objects.create(
                ticket=locked,
                kind=MessageKind.PUBLIC,
                author_kind=AuthorKind.CUSTOMER,
                via=via,
                body=body,
                at=now,
                email_message_id=email_message_id or None,
            )
    except IntegrityError:
        if (
            email_message_id
            and TicketMessage.objects.filter(email_message_id=email_message_id).exists()
        ):
            return None
        raise
    attachments_add(ticket=locked, message=message, files=list(files), at=now)
    locked.last_customer_reply_at = now
    if locked.status == TicketStatus.WAITING:
        clock_resume(ticket=locked, now=now)
        status_move(ticket=locked, to=TicketStatus.OPEN, now=now, resume=False)
    elif locked.status in (TicketStatus.RESOLVED, TicketStatus.CLOSED):
        status_move(ticket=locked, to=TicketStatus.OPEN, now=now)
        event_add(ticket=locked, kind=EventKind.REOPENED, at=now, by="customer")
    locked.save()
    return message
