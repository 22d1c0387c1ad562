"""What members do with a message: opens (the pixel), clicks (signed redirects), unsubscribes
through a campaign's link, and SMS delivery receipts. First times are kept; repeats change
nothing. An open or a click proves delivery."""

import datetime as dt

from django.core import signing
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from apps.core.events import Event
from apps.core.sms import SmsReceipt
from apps.customers.enums import Channel

from ..composer import track_read
from ..enums import MessageStatus
from ..models import Message


def _message(token: str) -> tuple[Message | None, str]:
    try:
        message_id, url = track_read(token)
    except (signing.BadSignature, ValueError, TypeError):
        return None, ""
    return Message.objects.filter(pk=message_id).first(), url


def _first(message: Message, field: str, at: dt.datetime) -> None:
    Message.objects.filter(pk=message.pk, **{f"{field}__isnull": True}).update(**{field: at})
    Message.objects.filter(pk=message.pk, status=MessageStatus.SENT).update(
        status=MessageStatus.DELIVERED, delivered_at=at
    )


@transaction.atomic
def message_open_record(*, token: str, at: dt.datetime | None = None) -> bool:
    """Record the first open of the message named by a pixel token; False for a bad token."""
    message, _url = _message(token)
    if message is None:
        return False
    _first(message, "opened_at", at or timezone.now())
    return True


@transaction.atomic
def message_click_record(*, token: str, at: dt.datetime | None = None) -> str | None:
    """Record the first click of a tracked link and return where it goes; None for a bad token
    (the link was altered: we redirect nowhere)."""
    message, url = _message(token)
    if message is None or not url.startswith(("https://", "http://")):
        return None
    at = at or timezone.now()
    _first(message, "clicked_at", at)
    _first(message, "opened_at", at)
    return url


@transaction.atomic
def message_unsubscribe_record(
    *, customer_id: int, channel: str, at: dt.datetime | None = None
) -> int:
    """A member unsubscribed through a campaign message's link: the latest message on that
    channel is the one that lost them (what the campaign's report counts)."""
    latest = (
        Message.objects.filter(
            customer_id=customer_id,
            channel=channel,
            status__in=(MessageStatus.SENT, MessageStatus.DELIVERED),
            unsubscribed_at__isnull=True,
        )
        .order_by("-sent_at", "-pk")
        .values_list("pk", flat=True)
        .first()
    )
    if latest is None:
        return 0
    return Message.objects.filter(pk=latest).update(unsubscribed_at=at or timezone.now())


@transaction.atomic
def sms_receipt_apply(*, receipt: SmsReceipt) -> bool:
    """Apply a gateway's delivery receipt to the message it names (by the gateway's id).
    A receipt for an unknown message, or one after a final state, changes nothing."""
    at = receipt.at or timezone.now()
    found = Message.objects.filter(
        Q(status=MessageStatus.SENT), channel=Channel.SMS, provider_id=receipt.provider_id
    )
    if receipt.status == "delivered":
        return bool(found.update(status=MessageStatus.DELIVERED, delivered_at=at))
    return bool(found.update(status=MessageStatus.FAILED, error=receipt.reason[:255]))


def on_customer_unsubscribed(event: Event) -> None:
    """``customer.unsubscribed`` (after commit): attribute the loss to the latest message."""
    message_unsubscribe_record(
        customer_id=event.payload["customer_id"], channel=event.payload["channel"], at=event.at
    )
