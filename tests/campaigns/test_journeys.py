"""Journeys: domain events from the outbox (after commit, at least once) and the daily
date-based run. Each occurrence is placed once; the delay sets ``not_before``; a journey's segment
filters at the moment of the trigger."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core import mail
from django.db import transaction
from django.utils import timezone

from apps.analytics.services.segments import segment_save
from apps.campaigns.enums import MessageStatus
from apps.campaigns.models import Message
from apps.campaigns.services.delivery import messages_deliver
from apps.campaigns.services.journeys import journeys_daily
from apps.campaigns.services.lifecycle import campaign_pause, campaign_start
from apps.campaigns.tasks import campaigns_journeys_daily
from apps.core import events
from apps.core.events import outbox_deliver
from apps.core.models import OutboxEvent
from apps.customers.enums import OrderStatus
from apps.customers.models import Customer
from apps.customers.services import customer_create, membership_enrol, order_record
from apps.loyalty.services import order_ingest
from tests.campaigns.factories import journey, no_quiet_hours, reachable
from tests.conftest import verified_user
from tests.customers.factories import CustomerFactory, OrderFactory, TagFactory
from tests.loyalty.factories import TierFactory

pytestmark = pytest.mark.django_db

VIP = {"field": "customer.tags", "op": "has", "value": "vip"}


@pytest.fixture(autouse=True)
def _daytime(db):
    no_quiet_hours()


def _running(trigger, actor, **settings):
    return campaign_start(campaign=journey(trigger=trigger, actor=actor, **settings), actor=actor)


def _redeliver(capture, name: str) -> None:
    """The outbox delivers at least once: deliver the event named ``name`` again."""
    event = OutboxEvent.objects.get(name=name)
    OutboxEvent.objects.filter(pk=event.pk).update(delivered_at=None, done=[])
    with capture(execute=True):
        outbox_deliver(str(event.pk))


# --- event journeys ------------------------------------------------------------------------


def test_a_new_member_gets_the_welcome_once(marketer, django_capture_on_commit_callbacks):
    campaign = _running("welcome", marketer)

    with django_capture_on_commit_callbacks(execute=True):
        customer = customer_create(
            actor=marketer,
            first_name="Ann",
            last_name="Lee",
            email="ann@example.org",
            preferred_language="en",
            consents=[("email", "marketing", True)],
        )
    _redeliver(django_capture_on_commit_callbacks, "customer.enrolled")

    message = Message.objects.get(campaign=campaign)
    assert (message.customer_id, message.step, message.status, message.channel) == (
        customer.pk,
        "welcome",
        MessageStatus.SENT,
        "email",
    )
    assert [(m.to, m.subject) for m in mail.outbox] == [(["ann@example.org"], "Hello Ann")]


def test_a_portal_sign_up_gets_the_welcome_too(marketer, django_capture_on_commit_callbacks):
    campaign = _running("welcome", marketer)
    user = verified_user("zoe@example.org")

    with django_capture_on_commit_callbacks(execute=True):
        customer = membership_enrol(
            user=user, first_name="Zoe", consents=[("email", "marketing", True)]
        )

    message = Message.objects.get(campaign=campaign)
    assert (message.customer_id, message.status) == (customer.pk, MessageStatus.SENT)
    assert [m.to for m in mail.outbox] == [["zoe@example.org"]]


def test_after_a_purchase_the_message_waits_the_delay_and_then_goes(
    marketer, store, django_capture_on_commit_callbacks
):
    campaign = _running("after_purchase", marketer, delay_hours=24)
    (customer,) = reachable(1, "email")

    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        order, _created = order_record(
            store=store,
            external_id="P-1",
            customer=customer,
            placed_at=timezone.now(),
            total=Decimal("80.00"),
        )
    _redeliver(django_capture_on_commit_callbacks, "order.recorded")

    message = Message.objects.get(campaign=campaign)
    assert (message.step, message.status) == (f"order:{order.pk}", MessageStatus.QUEUED)
    assert message.not_before - message.created_at == dt.timedelta(hours=24)
    assert mail.outbox == []

    assert messages_deliver(campaign_id=campaign.pk, now=message.not_before).claimed == 1

    message.refresh_from_db()
    assert message.status == MessageStatus.SENT
    assert [m.to for m in mail.outbox] == [[customer.email]]


def test_each_purchase_is_its_own_occurrence_and_an_anonymous_order_places_nobody(
    marketer, store, django_capture_on_commit_callbacks
):
    campaign = _running("after_purchase", marketer)
    (customer,) = reachable(1, "email")

    with django_capture_on_commit_callbacks(execute=True):
        for n, who in enumerate((customer, customer, None)):
            order_record(
                store=store,
                external_id=f"P-{n}",
                customer=who,
                placed_at=timezone.now(),
                total=Decimal(10),
            )

    steps = sorted(Message.objects.filter(campaign=campaign).values_list("step", flat=True))
    assert len(steps) == 2 and all(s.startswith("order:") for s in steps)
    assert len(set(steps)) == 2


def test_a_journeys_segment_filters_at_the_trigger(
    marketer, store, django_capture_on_commit_callbacks
):
    segment = segment_save(actor=marketer, rules=VIP, names={"name_en": "VIP"})
    campaign = _running("after_purchase", marketer, segment=segment)
    vip, other = reachable(2, "email")
    vip.tags.add(TagFactory(name="vip"))

    with django_capture_on_commit_callbacks(execute=True):
        for n, customer in enumerate((vip, other)):
            order_record(
                store=store,
                external_id=f"S-{n}",
                customer=customer,
                placed_at=timezone.now(),
                total=Decimal(10),
            )

    assert list(
        Message.objects.filter(campaign=campaign).values_list("customer_id", flat=True)
    ) == [vip.pk]


def test_a_paused_journey_places_nobody(marketer, store, django_capture_on_commit_callbacks):
    campaign = _running("after_purchase", marketer)
    campaign_pause(campaign=campaign, actor=marketer)
    (customer,) = reachable(1, "email")

    with django_capture_on_commit_callbacks(execute=True):
        order_record(
            store=store,
            external_id="X",
            customer=customer,
            placed_at=timezone.now(),
            total=Decimal(1),
        )

    assert not Message.objects.filter(campaign=campaign).exists()


def test_a_tier_change_starts_the_tier_journey(marketer, store, django_capture_on_commit_callbacks):
    TierFactory(slug="member", rank=0)
    silver = TierFactory(slug="silver", rank=1, threshold=Decimal(1000))
    campaign = _running("tier_changed", marketer)
    (customer,) = reachable(1, "email")

    with django_capture_on_commit_callbacks(execute=True):
        order_ingest(
            store=store,
            external_id="T-1",
            customer=customer,
            placed_at=timezone.now(),
            total=Decimal(1500),
        )
    _redeliver(django_capture_on_commit_callbacks, "tier.changed")

    event = OutboxEvent.objects.get(name="tier.changed")
    assert event.payload["new_tier_id"] == silver.pk
    message = Message.objects.get(campaign=campaign)
    assert (message.step, message.status) == (f"event:{event.pk}", MessageStatus.SENT)


def test_a_resolved_ticket_starts_the_care_journey(marketer, django_capture_on_commit_callbacks):
    campaign = _running("after_ticket_resolved", marketer, delay_hours=48)
    (customer,) = reachable(1, "email")

    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        events.publish("ticket.resolved", ticket_id=77, customer_id=customer.pk)
    _redeliver(django_capture_on_commit_callbacks, "ticket.resolved")

    event = OutboxEvent.objects.get(name="ticket.resolved")
    message = Message.objects.get(campaign=campaign)
    assert (message.step, message.status) == (f"ticket:77:{event.pk}", MessageStatus.QUEUED)
    assert message.not_before - message.created_at == dt.timedelta(hours=48)


def test_points_expiring_starts_a_points_expiring_journey(
    marketer, django_capture_on_commit_callbacks
):
    campaign = _running("points_expiring", marketer)
    (customer,) = reachable(1, "email")

    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        events.publish("points.expiring", customer_id=customer.pk, items=[])

    event = OutboxEvent.objects.get(name="points.expiring")
    message = Message.objects.get(campaign=campaign)
    assert message.step == f"event:{event.pk}"
    # Nothing expires any more when it is due: the reminder would say something untrue.
    assert (message.status, message.reason) == (MessageStatus.SUPPRESSED, "outdated")


# --- the daily journeys --------------------------------------------------------------------


def _placed(campaign) -> set[tuple[int, str]]:
    return set(Message.objects.filter(campaign=campaign).values_list("customer_id", "step"))


def test_birthdays_are_met_on_the_day_and_29_february_on_28_february_in_other_years(marketer):
    campaign = _running("birthday", marketer)
    march_10, leap_day, feb_28, march_11 = (
        reachable(1, "email", birth_date=dt.date(*day))[0].pk
        for day in ((1990, 3, 10), (1992, 2, 29), (1990, 2, 28), (1990, 3, 11))
    )
    CustomerFactory(birth_date=dt.date(1990, 3, 10), anonymized_at=timezone.now())

    assert journeys_daily(day=dt.date(2027, 3, 10)) == {campaign.pk: 1}
    assert _placed(campaign) == {(march_10, "birthday:2027")}

    journeys_daily(day=dt.date(2027, 2, 28))  # not a leap year: 29 February is kept today
    assert _placed(campaign) == {
        (march_10, "birthday:2027"),
        (leap_day, "birthday:2027"),
        (feb_28, "birthday:2027"),
    }

    journeys_daily(day=dt.date(2028, 2, 28))  # a leap year: 29 February comes
    assert {c for c, s in _placed(campaign) if s == "birthday:2028"} == {feb_28}
    journeys_daily(day=dt.date(2028, 2, 29))
    assert {c for c, s in _placed(campaign) if s == "birthday:2028"} == {feb_28, leap_day}
    assert march_11 not in {c for c, _s in _placed(campaign)}


def _at(y, m, d, hour=12, minute=0) -> dt.datetime:
    """A moment in the business time zone (Asia/Shanghai)."""
    return timezone.make_aware(dt.datetime(y, m, d, hour, minute))


def test_anniversaries_count_whole_years_in_the_business_time_zone(marketer):
    campaign = _running("anniversary", marketer)
    two_years = reachable(1, "email", joined_at=_at(2024, 3, 10))[0]
    late_evening = reachable(1, "email", joined_at=_at(2025, 3, 10, 23, 30))[0]
    past_midnight = reachable(1, "email", joined_at=_at(2025, 3, 11, 0, 30))[0]  # 10 March UTC
    leap = reachable(1, "email", joined_at=_at(2024, 2, 29))[0]
    this_year = reachable(1, "email", joined_at=_at(2026, 3, 10, 8))[0]

    journeys_daily(day=dt.date(2026, 3, 10))
    # Not ``this_year``: the joining day is no anniversary.
    assert _placed(campaign) == {
        (two_years.pk, "anniversary:2026"),
        (late_evening.pk, "anniversary:2026"),
    }

    journeys_daily(day=dt.date(2026, 3, 11))
    assert (past_midnight.pk, "anniversary:2026") in _placed(campaign)

    journeys_daily(day=dt.date(2025, 2, 28))  # joined on 29 February 2024
    assert {c for c, s in _placed(campaign) if s == "anniversary:2025"} == {leap.pk}
    assert this_year.pk not in {c for c, _s in _placed(campaign)}


def test_win_back_meets_who_last_bought_exactly_n_days_ago(marketer):
    campaign = _running("inactive_n_days", marketer, trigger_days=30)
    today = dt.date(2026, 11, 20)

    def bought(customer, days_ago, status=OrderStatus.PAID):
        day = today - dt.timedelta(days=days_ago)
        # 00:30 in Shanghai is the evening before in UTC: the day is the business day.
        OrderFactory(
            customer=customer, placed_at=_at(day.year, day.month, day.day, 0, 30), status=status
        )

    exact, recent, older, refunded_last, refund_after, bought_before, partly = reachable(7)
    bought(exact, 30)
    bought(recent, 29)
    bought(older, 31)
    bought(refunded_last, 45)
    bought(refunded_last, 30, OrderStatus.REFUNDED)  # the last real purchase was 45 days ago
    bought(refund_after, 30)
    bought(refund_after, 10, OrderStatus.REFUNDED)  # a refunded order is no purchase
    bought(bought_before, 60)
    bought(bought_before, 30)
    bought(partly, 30, OrderStatus.PARTIALLY_REFUNDED)

    assert journeys_daily(day=today) == {campaign.pk: 4}

    step = "lapsed:2026-10-21"
    assert _placed(campaign) == {
        (exact.pk, step),
        (refund_after.pk, step),
        (bought_before.pk, step),
        (partly.pk, step),
    }

    # ``exact`` comes back, buys, and lapses again: met again for that purchase.
    bought(exact, -5)
    journeys_daily(day=today + dt.timedelta(days=35))
    assert {s for c, s in _placed(campaign) if c == exact.pk} == {step, "lapsed:2026-11-25"}


def test_running_the_daily_job_twice_queues_nothing_more(marketer):
    birthday = _running("birthday", marketer)
    reachable(2, "email", birth_date=dt.date(1990, 6, 1))
    day = "2027-06-01"

    first = campaigns_journeys_daily(day)
    second = campaigns_journeys_daily(day)

    assert first == {str(birthday.pk): 2}
    assert second == {str(birthday.pk): 0}
    assert Message.objects.filter(campaign=birthday).count() == 2
    assert len(mail.outbox) == 2  # the task sent what it queued, once


def test_a_daily_journey_skips_anonymised_and_merged_customers(marketer):
    campaign = _running("birthday", marketer)
    (live,) = reachable(1, "email", birth_date=dt.date(1990, 6, 1))
    survivor = CustomerFactory()
    merged = CustomerFactory(birth_date=dt.date(1990, 6, 1))
    Customer.objects.filter(pk=merged.pk).update(merged_into=survivor, merged_at=timezone.now())

    journeys_daily(day=dt.date(2027, 6, 1))

    assert _placed(campaign) == {(live.pk, "birthday:2027")}
