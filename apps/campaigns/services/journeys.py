"""Journeys: who a triggered campaign places, and when.

Events from the outbox (after commit, at least once) place one customer: welcome on
``customer.enrolled``, after a purchase on ``order.recorded``, on ``tier.changed``, after
``ticket.resolved``, and the points-expiring reminder on ``points.expiring``. The step names the
occurrence (the order, the ticket, the event), so a redelivered event places nobody twice.

The daily run finds customers by date, in the business time zone: birthdays (a 29 February
birthday is kept on 28 February in other years), membership anniversaries (whole years since
joining), and win-back (the last purchase exactly N days ago, so each lapse is met once; the
step is that purchase's date, so a customer who buys and lapses again is met again).

A journey's segment, when it has one, filters at the moment of the trigger. Its delay puts the
message's ``not_before`` later; the sender picks it up then.
"""

import datetime as dt
from collections.abc import Iterable

from django.db.models import Max, Q
from django.db.models.functions import ExtractDay, ExtractMonth, TruncDate
from django.utils import timezone

from apps.analytics.rules.compiler import segment_customers
from apps.core.events import Event
from apps.customers.enums import OrderStatus
from apps.customers.models import Customer, Order

from ..enums import CampaignKind, CampaignStatus, Trigger
from ..models import Campaign
from .queueing import QueueOutcome, messages_queue

EVENT_TRIGGERS = {
    "customer.enrolled": Trigger.WELCOME,
    "order.recorded": Trigger.AFTER_PURCHASE,
    "tier.changed": Trigger.TIER_CHANGED,
    "ticket.resolved": Trigger.AFTER_TICKET_RESOLVED,
    "points.expiring": Trigger.POINTS_EXPIRING,
}
CHUNK = 2000


def journeys_running(trigger: str) -> list[Campaign]:
    return list(
        Campaign.objects.filter(
            kind=CampaignKind.TRIGGERED, trigger=trigger, status=CampaignStatus.RUNNING
        ).select_related("segment")
    )


def _in_segment(campaign: Campaign, customer_ids: list[int]) -> list[int]:
    if campaign.segment_id is None:
        return customer_ids
    return list(
        segment_customers(campaign.segment.rules)
        .filter(pk__in=customer_ids)
        .values_list("pk", flat=True)
    )


def journey_place(
    *, campaign: Campaign, customer_ids: list[int], step: str | dict[int, str], at: dt.datetime
) -> QueueOutcome:
    ids = _in_segment(campaign, customer_ids)
    steps = step if isinstance(step, str) else {cid: step[cid] for cid in ids}
    return messages_queue(
        campaign=campaign,
        customer_ids=ids,
        step=steps,
        not_before=at + dt.timedelta(hours=campaign.delay_hours),
        now=at,
    )


def _event_step(event: Event) -> str:
    payload = event.payload
    if event.name == "order.recorded":
        return f"order:{payload['order_id']}"
    if event.name == "ticket.resolved":
        return f"ticket:{payload['ticket_id']}:{event.id}"
    if event.name == "customer.enrolled":
        return "welcome"
    return f"event:{event.id}"


def journeys_on_event(event: Event) -> list[int]:
    """Place the event's customer on each running journey of its trigger. Returns the ids of
    the campaigns that queued a message (for the caller to send them)."""
    trigger = EVENT_TRIGGERS.get(event.name)
    customer_id = event.payload.get("customer_id")
    if trigger is None or not customer_id:
        return []
    at = timezone.now()
    started = []
    for campaign in journeys_running(trigger):
        outcome = journey_place(
            campaign=campaign, customer_ids=[customer_id], step=_event_step(event), at=at
        )
        if outcome.by_status.get("queued"):
            started.append(campaign.pk)
    return started


def _chunks(ids: list[int]) -> Iterable[list[int]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]


def birthday_ids(day: dt.date) -> list[int]:
    days = Q(birth_date__month=day.month, birth_date__day=day.day)
    if day.month == 2 and day.day == 28 and not _leap(day.year):
        days |= Q(birth_date__month=2, birth_date__day=29)
    return list(
        Customer.objects.filter(days, anonymized_at__isnull=True, merged_into__isnull=True)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def anniversary_ids(day: dt.date) -> list[int]:
    tz = timezone.get_current_timezone()
    joined = Customer.objects.annotate(
        m=ExtractMonth("joined_at", tzinfo=tz), d=ExtractDay("joined_at", tzinfo=tz)
    ).filter(anonymized_at__isnull=True, merged_into__isnull=True, joined_at__year__lt=day.year)
    days = Q(m=day.month, d=day.day)
    if day.month == 2 and day.day == 28 and not _leap(day.year):
        days |= Q(m=2, d=29)
    return list(joined.filter(days).order_by("pk").values_list("pk", flat=True))


def lapsed_ids(day: dt.date, days: int) -> dict[int, str]:
    """Customers whose last purchase (refunded orders aside) fell exactly ``days`` days before
    ``day``, with that date as the step."""
    tz = timezone.get_current_timezone()
    target = day - dt.timedelta(days=days)
    rows = (
        Order.objects.filter(customer__isnull=False, customer__anonymized_at__isnull=True)
        .exclude(status=OrderStatus.REFUNDED)
        .values("customer_id")
        .annotate(last=Max(TruncDate("placed_at", tzinfo=tz)))
        .filter(last=target)
        .values_list("customer_id", "last")
    )
    return {cid: f"lapsed:{last.isoformat()}" for cid, last in rows}


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def journeys_daily(*, day: dt.date | None = None, at: dt.datetime | None = None) -> dict[int, int]:
    """Run the date-based journeys for ``day`` (default today, business time zone). Returns
    campaign id → messages queued. Safe to run twice: the steps repeat, the unique key holds."""
    at = at or timezone.now()
    day = day or timezone.localdate(at)
    queued: dict[int, int] = {}
    for trigger in (Trigger.BIRTHDAY, Trigger.ANNIVERSARY, Trigger.INACTIVE):
        for campaign in journeys_running(trigger):
            if trigger == Trigger.INACTIVE:
                steps = lapsed_ids(day, campaign.trigger_days or 90)
                ids, step = sorted(steps), steps
            else:
                ids = birthday_ids(day) if trigger == Trigger.BIRTHDAY else anniversary_ids(day)
                step = f"{trigger}:{day.year}"
            for chunk in _chunks(ids):
                outcome = journey_place(campaign=campaign, customer_ids=chunk, step=step, at=at)
                queued[campaign.pk] = queued.get(campaign.pk, 0) + outcome.by_status.get(
                    "queued", 0
                )
    return queued
