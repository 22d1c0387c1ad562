"""A member's e-mail reply comes back into their ticket.

The ticket is found by the signed reply-to address our replies carry (``reply+t-…@``), or else
by a reference (``C-2026-000123``) in the subject when the sender is the ticket's member (a
reference alone is guessable, the sender check keeps strangers out). Auto-replies and bounces
are ignored; the same message (Message-ID) delivered twice is one message; the quoted
conversation is cut off; attachments go through the same checks as the portal's (a refused
file is named in the message instead of stored). Anything else is left unmatched (202) for
the gateway's own handling: we do not open tickets from strangers' mail."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass

from django.db import transaction
from django.utils.translation import gettext as _

from apps.core.exceptions import ApplicationError
from apps.core.mail_inbound import InboundMail, parse_message, strip_quoted_reply
from apps.core.mail_signing import parse_reply_address
from apps.core.uploads import UploadRefused, inspect_upload

from ..enums import TicketChannel
from ..models import Ticket
from .conversation import customer_reply

REFERENCE = re.compile(r"\bC-\d{4}-\d{6}\b", re.I)


@dataclass(frozen=True)
class InboundResult:
    status: str  # "added", "duplicate", "ignored", "unmatched", "refused"
    reference: str = ""
    reason: str = ""


def _ticket_for(mail: InboundMail) -> Ticket | None:
    for address in mail.to:
        parsed = parse_reply_address(address)
        if parsed and parsed[0] == "t":
            ticket = Ticket.objects.select_related("customer").filter(pk=parsed[1]).first()
            if ticket is not None:
                return ticket
    match = REFERENCE.search(mail.subject)
    if match:
        ticket = (
            Ticket.objects.select_related("customer")
            .filter(reference=match.group(0).upper())
            .first()
        )
        if ticket and ticket.customer.email and ticket.customer.email.lower() == mail.from_address:
            return ticket
    return None


class _Named(io.BytesIO):
    def __init__(self, payload: bytes, name: str):
        super().__init__(payload)
        self.name = name
        self.size = len(payload)


def _files(mail: InboundMail) -> tuple[list, list[str]]:
    kept, refused = [], []
    for attachment in mail.attachments:
        try:
            kept.append(inspect_upload(_Named(attachment.payload, attachment.filename)))
        except UploadRefused as exc:
            refused.append(exc.message)
    return kept, refused


def inbound_mail_receive(*, raw: bytes) -> InboundResult:
    try:
        mail = parse_message(raw)
    except ApplicationError as exc:
        return InboundResult("refused", reason=exc.message)
    if mail.auto_submitted:
        return InboundResult("ignored", reason="auto-submitted")
    ticket = _ticket_for(mail)
    if ticket is None:
        return InboundResult("unmatched")
    files, refused = _files(mail)
    body = strip_quoted_reply(mail.text) if mail.text.strip() else ""
    notes = [_("(Attachment not accepted: %(reason)s)") % {"reason": r} for r in refused]
    body = "\n\n".join(part for part in [body, *notes] if part) or _("(attachments only)")
    try:
        with transaction.atomic():
            message = customer_reply(
                ticket=ticket,
                body=body[:10_000],
                via=TicketChannel.EMAIL,
                email_message_id=mail.message_id or None,
                files=files,
            )
    except ApplicationError as exc:
        return InboundResult("refused", reference=ticket.reference, reason=exc.message)
    if message is None:
        return InboundResult("duplicate", reference=ticket.reference)
    return InboundResult("added", reference=ticket.reference)
