"""Handing rendered messages to the channel back-ends: Django's e-mail back-end, the SMS
back-end (``settings.SMS_BACKEND``), the portal inbox. Each returns one ``Sent`` per message;
a back-end's refusal becomes a failed message with the back-end's reason, never an exception
that would leave the rest of the batch unsent."""

from dataclasses import dataclass

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection

from apps.core.sms import SmsSendFailed, get_sms_backend
from apps.customers.inbox import portal_messages_send_bulk
from apps.customers.models import PortalMessage

from .composer import Rendered, message_key
from .enums import MessageStatus
from .models import Message

GATEWAY_DOWN = "the gateway was unavailable; to be sent later"


@dataclass(frozen=True)
class Sent:
    message_id: int
    status: str
    provider_id: str = ""
    error: str = ""
    handed: bool = True  # False: never reached a back-end (it costs nothing)


def email_send(items: list[tuple[Message, Rendered, str]]) -> list[Sent]:
    """E-mails over one connection. ``items``: (message, rendered, unsubscribe URL)."""
    out: list[Sent] = []
    if not items:
        return out
    connection = get_connection()
    connection.open()
    try:
        for message, rendered, unsubscribe in items:
            headers = {
                "Message-ID": f"<campaign-{message.pk}@{settings.CAMPAIGN_MESSAGE_ID_DOMAIN}>"
            }
            if unsubscribe:
                headers["List-Unsubscribe"] = f"<{unsubscribe}>"
                headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
            email = EmailMultiAlternatives(
                subject=rendered.subject,
                body=rendered.text,
                from_email=settings.DEFAULT_FROM_EMAIL,
                to=[message.customer.email],
                headers=headers,
                connection=connection,
            )
            if rendered.html:
                email.attach_alternative(rendered.html, "text/html")
            try:
                email.send()
            except Exception as exc:  # SMTP refusals, timeouts: recorded, the batch goes on
                out.append(Sent(message.pk, MessageStatus.FAILED, error=_reason(exc)))
            else:
                out.append(Sent(message.pk, MessageStatus.SENT, provider_id=headers["Message-ID"]))
    finally:
        connection.close()
    return out


def sms_send(items: list[tuple[Message, Rendered]]) -> list[Sent]:
    """Texts one by one. Once the gateway fails in a way that is not about one message (it is
    down, after its own retries), the rest of the batch is not tried now: those messages go
    back to the queue for later (``QUEUED``), instead of each waiting out the retries."""
    out: list[Sent] = []
    if not items:
        return out
    backend = get_sms_backend()
    down = False
    for message, rendered in items:
        if down:
            out.append(Sent(message.pk, MessageStatus.QUEUED, error=GATEWAY_DOWN))
            continue
        try:
            provider_id = backend.send(
                to=message.customer.phone, body=rendered.text, reference=str(message.pk)
            )
        except SmsSendFailed as exc:
            out.append(Sent(message.pk, MessageStatus.FAILED, error=exc.reason[:255]))
            down = not exc.permanent
        except Exception as exc:
            out.append(Sent(message.pk, MessageStatus.FAILED, error=_reason(exc)))
        else:
            out.append(Sent(message.pk, MessageStatus.SENT, provider_id=str(provider_id)[:100]))
    return out


def inbox_send(items: list[tuple[Message, Rendered]], *, at) -> list[Sent]:
    """Inbox messages with one insert, in the member's language (the portal falls back to it
    when the member reads in the other). Keyed by the campaign message: a repeat adds nothing."""
    rows = []
    for message, rendered in items:
        suffix = message.language.replace("-", "_") or "en"
        rows.append(
            PortalMessage(
                customer_id=message.customer_id,
                kind=PortalMessage.Kind.CAMPAIGN,
                key=message_key(message),
                sent_at=at,
                **{f"subject_{suffix}": rendered.subject, f"body_{suffix}": rendered.text},
            )
        )
    if rows:
        portal_messages_send_bulk(messages=rows)
    return [Sent(message.pk, MessageStatus.DELIVERED) for message, _r in items]


def _reason(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"[:255]
