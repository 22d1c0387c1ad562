"""Campaign messages in "download my data", erasure and merging, and on the customer timeline.

A message row holds no personal data beyond whom it went to (the content is rendered at send
time and not kept), so erasure keeps the rows for the campaign's statistics and clears the
gateway's message id; the export lists every campaign message with what happened to it. A merge
moves the source's messages to the survivor, except where the survivor already has that step
of that campaign (the source's row then stays with the merged-away record)."""

from typing import Any

from django.db.models import Exists, OuterRef, QuerySet
from django.utils.translation import gettext as _

from apps.core.formatting import choice_label
from apps.core.timeline import TimelineEvent
from apps.customers.enums import Channel
from apps.customers.models import Customer

from .enums import REACHED
from .models import Message


def _iso(value) -> str | None:
    return value.isoformat() if value else None


def export_messages(*, customer: Customer) -> list[dict]:
    return [
        {
            "campaign": message.campaign.name,
            "step": message.step,
            "channel": message.channel,
            "status": message.status,
            "status_label": str(message.get_status_display()),
            "reason": message.reason,
            "reason_label": str(message.get_reason_display()) if message.reason else "",
            "error": message.error,
            "language": message.language,
            "gateway_id": message.provider_id,
            "assigned_at": _iso(message.created_at),
            "not_before": _iso(message.not_before),
            "claimed_at": _iso(message.claimed_at),
            "sent_at": _iso(message.sent_at),
            "delivered_at": _iso(message.delivered_at),
            "opened_at": _iso(message.opened_at),
            "clicked_at": _iso(message.clicked_at),
            "unsubscribed_at": _iso(message.unsubscribed_at),
        }
        for message in Message.objects.filter(customer=customer)
        .select_related("campaign")
        .order_by("created_at", "pk")
    ]


def erase(*, customer: Customer) -> dict[str, int]:
    cleared = (
        Message.objects.filter(customer=customer).exclude(provider_id="").update(provider_id="")
    )
    return {"campaign_messages_cleared": cleared}


def merge(*, source: Customer, target: Customer, actor: Any) -> dict[str, int]:
    taken = Message.objects.filter(
        customer=target, campaign_id=OuterRef("campaign_id"), step=OuterRef("step")
    )
    moved = (
        Message.objects.filter(customer=source)
        .annotate(taken=Exists(taken))
        .filter(taken=False)
        .update(customer=target)
    )
    return {"campaign_messages": moved}


def messages_timeline_rows(*, customer: Customer) -> QuerySet[Message]:
    return Message.objects.filter(customer=customer, status__in=REACHED)


def messages_timeline(messages: QuerySet[Message], *, customer: Customer) -> list[TimelineEvent]:
    events = []
    for message in messages.select_related("campaign"):
        title = _("Campaign “%(name)s”") % {"name": message.campaign.name}
        details = [choice_label(Channel, message.channel)]
        if message.clicked_at:
            details.append(_("clicked"))
        elif message.opened_at:
            details.append(_("opened"))
        if message.unsubscribed_at:
            details.append(_("unsubscribed"))
        events.append(
            TimelineEvent(
                at=message.sent_at,
                kind="message",
                icon="megaphone",
                title=title,
                detail=" · ".join(details),
            )
        )
    return events
