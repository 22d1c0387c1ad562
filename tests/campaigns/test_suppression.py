"""Who is placed how: suppression with its recorded reason (at placing and again at sending),
the frequency cap, the budget, and the holdout / A-B draw."""

import datetime as dt
import math
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone

from apps.campaigns.audience import assign
from apps.campaigns.enums import MessageStatus, Suppression
from apps.campaigns.models import Campaign, Message, Variant
from apps.campaigns.services.lifecycle import campaign_start
from apps.campaigns.services.queueing import messages_queue
from apps.campaigns.services.sending import broadcast_place_chunk
from apps.campaigns.tasks import campaign_send_task
from apps.customers.models import Customer
from apps.customers.services import customer_erase
from tests.accounts.factories import UserFactory
from tests.campaigns.factories import (
    VARIANT,
    broadcast,
    campaign_settings,
    draws,
    grant,
    journey,
    messages_by_customer,
    no_quiet_hours,
    reachable,
    split_audience,
    withdraw,
)
from tests.customers.factories import CustomerFactory

pytestmark = pytest.mark.django_db

SUPPRESSED = MessageStatus.SUPPRESSED


@pytest.fixture(autouse=True)
def _daytime(db):
    no_quiet_hours()


def _run(campaign, actor):
    campaign_start(campaign=campaign, actor=actor)
    campaign_send_task(campaign.pk)
    return messages_by_customer(campaign)


def _outcome(message):
    return (message.status, message.reason)


# --- suppression at placing ----------------------------------------------------------------


def test_each_unreachable_customer_is_suppressed_with_its_reason_and_gets_nothing(marketer):
    (ok,) = reachable(1, "email")
    silent = CustomerFactory(preferred_language="en")  # never answered
    gone = CustomerFactory()
    grant(gone, "email")
    withdraw(gone, "email")  # yes yesterday, no today: the latest answer counts
    bad_address = CustomerFactory(email="not-an-address")
    grant(bad_address, "email")
    no_address = CustomerFactory(email="")
    grant(no_address, "email")
    login = UserFactory(email="typo@example.org")
    login.emailaddress_set.create(email=login.email, verified=False, primary=True)
    unverified = CustomerFactory(user=login, email=login.email)
    grant(unverified, "email")
    campaign = broadcast(actor=marketer, channels=["email"])

    messages = _run(campaign, marketer)

    assert _outcome(messages[ok.pk]) == (MessageStatus.SENT, "")
    assert _outcome(messages[silent.pk]) == (SUPPRESSED, Suppression.NO_CONSENT)
    assert _outcome(messages[gone.pk]) == (SUPPRESSED, Suppression.UNSUBSCRIBED)
    assert _outcome(messages[bad_address.pk]) == (SUPPRESSED, Suppression.INVALID_ADDRESS)
    assert _outcome(messages[no_address.pk]) == (SUPPRESSED, Suppression.INVALID_ADDRESS)
    assert _outcome(messages[unverified.pk]) == (SUPPRESSED, Suppression.INVALID_ADDRESS)
    for message in messages.values():
        if message.status == SUPPRESSED:
            assert (message.variant_id, message.channel, message.cost) == (None, "", Decimal(0))
            assert message.sent_at is None
    assert [m.to for m in mail.outbox] == [[ok.email]]


def test_an_sms_only_campaign_suppresses_members_without_a_mobile_number(marketer, sms_outbox):
    (ok,) = reachable(1, "sms")
    no_phone = CustomerFactory(phone="")
    grant(no_phone, "sms")
    landline = CustomerFactory(phone="021-1234567")
    grant(landline, "sms")
    campaign = broadcast(actor=marketer, channels=["sms"])

    messages = _run(campaign, marketer)

    assert _outcome(messages[ok.pk]) == (MessageStatus.SENT, "")
    assert _outcome(messages[no_phone.pk]) == (SUPPRESSED, Suppression.INVALID_ADDRESS)
    assert _outcome(messages[landline.pk]) == (SUPPRESSED, Suppression.INVALID_ADDRESS)
    assert [s.to for s in sms_outbox] == [ok.phone]


def test_the_reason_that_says_most_wins_and_another_channel_reaches_who_it_can(marketer):
    said_no = CustomerFactory()  # no on e-mail, never asked about SMS
    grant(said_no, "email", granted=False)
    by_sms = CustomerFactory(preferred_channel="email", preferred_language="en")
    grant(by_sms, "email", granted=False)
    grant(by_sms, "sms")
    no_consent_no_phone = CustomerFactory(phone="")  # SMS consent, no number; e-mail unasked
    grant(no_consent_no_phone, "sms")
    campaign = broadcast(actor=marketer, channels=["email", "sms"])

    messages = _run(campaign, marketer)

    assert _outcome(messages[said_no.pk]) == (SUPPRESSED, Suppression.UNSUBSCRIBED)
    assert (messages[by_sms.pk].status, messages[by_sms.pk].channel) == (MessageStatus.SENT, "sms")
    assert _outcome(messages[no_consent_no_phone.pk]) == (SUPPRESSED, Suppression.NO_CONSENT)


def test_a_customer_anonymised_after_the_start_is_suppressed_as_anonymised(marketer):
    (customer,) = reachable(1, "email")
    campaign = broadcast(actor=marketer, channels=["email"])
    campaign_start(campaign=campaign, actor=marketer)
    Customer.objects.filter(pk=customer.pk).update(anonymized_at=timezone.now())

    campaign_send_task(campaign.pk)

    assert _outcome(Message.objects.get(campaign=campaign)) == (SUPPRESSED, Suppression.ANONYMISED)
    assert mail.outbox == []


def test_a_service_message_needs_no_consent_record_but_stops_at_an_explicit_no(marketer):
    never_asked = CustomerFactory(preferred_language="en")
    no_marketing = CustomerFactory(preferred_language="en")
    grant(no_marketing, "email", granted=False)  # marketing "no" does not stop a service message
    no_service = CustomerFactory()
    grant(no_service, "email", purpose="service", granted=False)
    campaign = broadcast(actor=marketer, channels=["email"], purpose="service")

    messages = _run(campaign, marketer)

    assert _outcome(messages[never_asked.pk]) == (MessageStatus.SENT, "")
    assert _outcome(messages[no_marketing.pk]) == (MessageStatus.SENT, "")
    assert _outcome(messages[no_service.pk]) == (SUPPRESSED, Suppression.UNSUBSCRIBED)
    assert sorted(m.to[0] for m in mail.outbox) == sorted([never_asked.email, no_marketing.email])
    # A service message carries no tracking (and no marketing flag).
    assert not any(m.marketing for m in messages.values())
    assert all("/o/" not in m.alternatives[0][0] for m in mail.outbox)


def test_an_address_recorded_in_store_stays_reachable_after_the_member_links_a_login(marketer):
    login = UserFactory(email="portal@example.org")
    login.emailaddress_set.create(email=login.email, verified=True, primary=True)
    customer = CustomerFactory(user=login, email="till@example.org", preferred_language="en")
    grant(customer, "email")
    campaign = broadcast(actor=marketer, channels=["email"])

    messages = _run(campaign, marketer)

    assert _outcome(messages[customer.pk]) == (MessageStatus.SENT, "")
    assert [m.to for m in mail.outbox] == [["till@example.org"]]


# --- suppression at sending ----------------------------------------------------------------


def test_consent_withdrawn_after_queueing_suppresses_at_send_and_returns_the_reserved_cost(
    marketer,
):
    stays, leaves = reachable(2, "email")
    campaign = broadcast(
        actor=marketer,
        channels=["email"],
        cost_per_message=Decimal("0.25"),
        budget=Decimal("10.00"),
    )
    campaign = campaign_start(campaign=campaign, actor=marketer)
    broadcast_place_chunk(campaign=campaign)
    campaign.refresh_from_db()
    assert campaign.spent == Decimal("0.50")
    withdraw(leaves, "email")

    campaign_send_task(campaign.pk)

    messages = messages_by_customer(campaign)
    assert (messages[stays.pk].status, messages[stays.pk].cost) == (
        MessageStatus.SENT,
        Decimal("0.25"),
    )
    left = messages[leaves.pk]
    assert (left.status, left.reason, left.error) == (SUPPRESSED, Suppression.UNSUBSCRIBED, "")
    assert (left.cost, left.sent_at, left.variant_id is not None) == (Decimal(0), None, True)
    campaign.refresh_from_db()
    assert campaign.spent == Decimal("0.25")
    assert [m.to for m in mail.outbox] == [[stays.email]]


def test_a_customer_erased_after_queueing_is_suppressed_at_send(marketer, manager):
    (customer,) = reachable(1, "email")
    campaign = broadcast(actor=marketer, channels=["email"])
    campaign = campaign_start(campaign=campaign, actor=marketer)
    broadcast_place_chunk(campaign=campaign)
    customer_erase(customer=customer, actor=manager)

    campaign_send_task(campaign.pk)

    assert _outcome(Message.objects.get(campaign=campaign)) == (SUPPRESSED, Suppression.ANONYMISED)
    assert mail.outbox == []


# --- the frequency cap ---------------------------------------------------------------------


def test_the_frequency_cap_suppresses_the_message_after_the_cap_across_campaigns(marketer):
    campaign_settings(frequency_cap=2)
    (customer,) = reachable(1, "email")
    old = Campaign.objects.create(name="Last month", kind="broadcast", status="completed")
    Message.objects.create(  # outside the 7 days: does not count
        campaign=old,
        step="send",
        customer=customer,
        channel="email",
        status=MessageStatus.SENT,
        created_at=timezone.now() - dt.timedelta(days=7, minutes=1),
    )
    for status in (MessageStatus.FAILED, MessageStatus.SUPPRESSED, MessageStatus.HOLDOUT):
        Message.objects.create(  # never reached the member: does not count
            campaign=old, step=status, customer=customer, status=status
        )
    campaigns = [broadcast(actor=marketer, channels=["email"]) for _ in range(3)]

    outcomes = [_outcome(_run(c, marketer)[customer.pk]) for c in campaigns]

    assert outcomes == [
        (MessageStatus.SENT, ""),
        (MessageStatus.SENT, ""),
        (SUPPRESSED, Suppression.FREQUENCY_CAP),
    ]
    assert len(mail.outbox) == 2


def test_the_cap_counts_a_delayed_message_when_it_was_sent(marketer):
    campaign_settings(frequency_cap=1)
    (customer,) = reachable(1, "email")
    welcome = Campaign.objects.create(name="Welcome", kind="triggered", status="running")
    Message.objects.create(
        campaign=welcome,
        step="welcome",
        customer=customer,
        channel="email",
        status=MessageStatus.SENT,
        created_at=timezone.now() - dt.timedelta(days=8),
        not_before=timezone.now() - dt.timedelta(hours=1),
        sent_at=timezone.now() - dt.timedelta(hours=1),
    )

    messages = _run(broadcast(actor=marketer, channels=["email"]), marketer)

    assert _outcome(messages[customer.pk]) == (SUPPRESSED, Suppression.FREQUENCY_CAP)


def test_queued_messages_count_towards_the_cap(marketer):
    campaign_settings(frequency_cap=1)
    reachable(1, "email")
    first = broadcast(actor=marketer, channels=["email"])
    second = broadcast(actor=marketer, channels=["email"])
    for campaign in (first, second):
        broadcast_place_chunk(campaign=campaign_start(campaign=campaign, actor=marketer))

    assert _outcome(Message.objects.get(campaign=first)) == (MessageStatus.QUEUED, "")
    assert _outcome(Message.objects.get(campaign=second)) == (
        SUPPRESSED,
        Suppression.FREQUENCY_CAP,
    )


def test_a_holdout_row_uses_no_slot_of_the_cap(marketer):
    campaign_settings(frequency_cap=1)
    first = broadcast(actor=marketer, channels=["email"], holdout_percent=50)
    _treated, (held,) = split_audience(first, treated=0, holdout=1)
    assert _outcome(_run(first, marketer)[held.pk]) == (MessageStatus.HOLDOUT, "")

    second = broadcast(actor=marketer, channels=["email"])

    assert _outcome(_run(second, marketer)[held.pk]) == (MessageStatus.SENT, "")
    assert [m.to for m in mail.outbox] == [[held.email]]


# --- the budget ----------------------------------------------------------------------------


def test_the_budget_queues_exactly_what_it_pays_for_and_suppresses_the_rest(marketer):
    customers = reachable(5, "email")
    campaign = broadcast(
        actor=marketer,
        channels=["email"],
        cost_per_message=Decimal("0.30"),
        budget=Decimal("1.00"),
    )

    messages = _run(campaign, marketer)

    assert math.floor(Decimal("1.00") / Decimal("0.30")) == 3
    paid, over = customers[:3], customers[3:]  # placed in customer order
    assert [_outcome(messages[c.pk]) for c in paid] == [(MessageStatus.SENT, "")] * 3
    assert [messages[c.pk].cost for c in paid] == [Decimal("0.30")] * 3
    assert [_outcome(messages[c.pk]) for c in over] == [(SUPPRESSED, Suppression.BUDGET)] * 2
    assert [messages[c.pk].cost for c in over] == [Decimal(0)] * 2
    campaign.refresh_from_db()
    assert campaign.spent == Decimal("0.90")
    assert len(mail.outbox) == 3


def test_the_budget_counts_the_bonus_points_at_the_point_value(marketer):
    reachable(5, "email")
    campaign = broadcast(
        actor=marketer,
        channels=["email"],
        cost_per_message=Decimal("0.10"),
        offer_kind="bonus_points",
        bonus_points=50,  # 50 × ¥0.01 = ¥0.50, so ¥0.60 a member
        budget=Decimal("2.00"),
    )

    messages = _run(campaign, marketer)

    statuses = sorted(_outcome(m) for m in messages.values())
    assert statuses == [(MessageStatus.SENT, "")] * 3 + [(SUPPRESSED, Suppression.BUDGET)] * 2
    campaign.refresh_from_db()
    assert campaign.spent == Decimal("1.80")


def test_the_holdout_uses_no_budget(marketer):
    campaign = broadcast(
        actor=marketer,
        channels=["email"],
        holdout_percent=50,
        cost_per_message=Decimal("1.00"),
        budget=Decimal("1.00"),
    )
    treated, held = split_audience(campaign, treated=2, holdout=2)

    messages = _run(campaign, marketer)

    first, second = sorted(treated, key=lambda c: c.pk)
    assert _outcome(messages[first.pk]) == (MessageStatus.SENT, "")
    assert _outcome(messages[second.pk]) == (SUPPRESSED, Suppression.BUDGET)
    assert [_outcome(messages[c.pk]) for c in held] == [(MessageStatus.HOLDOUT, "")] * 2
    campaign.refresh_from_db()
    assert campaign.spent == Decimal("1.00")


# --- holdout and A/B -----------------------------------------------------------------------


def test_the_holdout_receives_nothing_but_is_recorded(marketer):
    campaign = broadcast(actor=marketer, channels=["email"], holdout_percent=50)
    treated, held = split_audience(campaign, treated=2, holdout=3)

    messages = _run(campaign, marketer)

    for customer in held:
        message = messages[customer.pk]
        assert (message.status, message.variant_id, message.channel) == (
            MessageStatus.HOLDOUT,
            None,
            "email",
        )
        assert (message.sent_at, message.cost, message.coupon_id) == (None, Decimal(0), None)
    assert {messages[c.pk].status for c in treated} == {MessageStatus.SENT}
    assert sorted(m.to[0] for m in mail.outbox) == sorted(c.email for c in treated)


def test_the_holdout_is_drawn_only_among_the_reachable(marketer):
    campaign = broadcast(actor=marketer, channels=["email"], holdout_percent=50)
    _treated, held = split_audience(campaign, treated=1, holdout=2)
    unreachable = []
    while len(unreachable) < 3:  # customers the draw would put in the holdout, without consent
        customer = CustomerFactory()
        if draws(campaign, customer.pk) is None:
            unreachable.append(customer)
        else:
            customer.delete()

    messages = _run(campaign, marketer)

    assert [_outcome(messages[c.pk]) for c in unreachable] == [
        (SUPPRESSED, Suppression.NO_CONSENT)
    ] * 3
    holdout = [cid for cid, m in messages.items() if m.status == MessageStatus.HOLDOUT]
    assert sorted(holdout) == sorted(c.pk for c in held)


def test_the_draw_is_the_same_across_steps_and_reruns(marketer):
    campaign = journey(
        trigger="birthday",
        actor=marketer,
        channels=["email"],
        holdout_percent=30,
        variants=[dict(VARIANT, label="A"), dict(VARIANT, label="B", weight=2)],
    )
    campaign_start(campaign=campaign, actor=marketer)
    ids = [c.pk for c in reachable(30, "email")]

    messages_queue(campaign=campaign, customer_ids=ids, step="birthday:2026")
    messages_queue(campaign=campaign, customer_ids=ids, step="birthday:2027")
    again = messages_queue(campaign=campaign, customer_ids=ids, step="birthday:2027")

    assert again.placed == 0
    rows = Message.objects.filter(campaign=campaign).values_list(
        "customer_id", "step", "status", "variant_id"
    )
    groups: dict[int, set] = {}
    for customer_id, _step, status, variant_id in rows:
        groups.setdefault(customer_id, set()).add((status, variant_id))
    assert len(rows) == 60
    assert all(len(g) == 1 for g in groups.values())  # one group per customer, both years
    for customer_id, (group,) in groups.items():
        drawn = draws(campaign, customer_id)
        assert group == (
            (MessageStatus.HOLDOUT, None) if drawn is None else (MessageStatus.QUEUED, drawn.pk)
        )


def _within(count: int, n: int, p: float, sds: float = 4.0) -> bool:
    return abs(count - n * p) <= sds * math.sqrt(n * p * (1 - p))


def test_the_holdout_share_and_the_weights_hold_over_2000_customers(marketer):
    """The draw is a keyed hash, so it is fixed for given ids; the bound (four binomial standard
    deviations) holds for any ids with overwhelming probability, so it is not flaky."""
    campaign = Campaign.objects.create(name="Big", kind="broadcast", holdout_percent=10)
    a = Variant.objects.create(campaign=campaign, label="A", weight=3)
    b = Variant.objects.create(campaign=campaign, label="B", weight=1)
    ids = range(1_000_000, 1_002_000)

    drawn = {cid: assign(campaign=campaign, customer_id=cid, variants=[a, b]) for cid in ids}

    held = [cid for cid, v in drawn.items() if v is None]
    in_a = [cid for cid, v in drawn.items() if v == a]
    assert _within(len(held), 2000, 0.10)
    assert _within(len(in_a), 2000 - len(held), 0.75)
    assert {cid: assign(campaign=campaign, customer_id=cid, variants=[a, b]) for cid in ids} == (
        drawn
    )
    # Another campaign draws independently: its holdout overlaps this one's by chance only.
    other = Campaign.objects.create(name="Other", kind="broadcast", holdout_percent=10)
    other_held = {
        cid for cid in ids if assign(campaign=other, customer_id=cid, variants=[a]) is None
    }
    assert _within(len(other_held), 2000, 0.10)
    assert _within(len(other_held & set(held)), 2000, 0.01)


def test_no_holdout_means_everyone_reachable_is_treated(marketer):
    campaign = Campaign.objects.create(name="All", kind="broadcast", holdout_percent=0)
    a = Variant.objects.create(campaign=campaign, label="A")
    assert all(assign(campaign=campaign, customer_id=c, variants=[a]) == a for c in range(500))
