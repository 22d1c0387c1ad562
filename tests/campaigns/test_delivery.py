"""Sending: quiet hours, pacing, pause / resume / cancel, a sender that dies after claiming,
duplicate task deliveries, back-end refusals, and the status each message ends in."""

import datetime as dt
import smtplib
from collections import Counter
from decimal import Decimal

import pytest
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend
from django.utils import timezone

from apps.campaigns.channels import GATEWAY_DOWN
from apps.campaigns.enums import CampaignStatus, MessageStatus, Suppression
from apps.campaigns.models import Message
from apps.campaigns.services.delivery import (
    CLAIM_TIMEOUT,
    INTERRUPTED,
    RETRY_LATER,
    Pacer,
    _claim,
    campaign_counts,
    claims_recover,
    messages_deliver,
)
from apps.campaigns.services.lifecycle import (
    campaign_cancel,
    campaign_pause,
    campaign_resume,
    campaign_start,
)
from apps.campaigns.services.sending import broadcast_place_chunk, campaign_send, campaigns_due
from apps.campaigns.tasks import campaign_send_task, campaigns_tick
from apps.core.sms import LocmemSmsBackend, SmsSendFailed
from apps.customers.models import PortalMessage
from tests.campaigns.factories import (
    broadcast,
    campaign_settings,
    grant,
    messages_by_customer,
    no_quiet_hours,
    reachable,
    split_audience,
)
from tests.customers.factories import CustomerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _daytime(db):
    no_quiet_hours()


def _placed(campaign, actor):
    """Start and place the broadcast without delivering anything."""
    campaign = campaign_start(campaign=campaign, actor=actor)
    while not broadcast_place_chunk(campaign=campaign)[1]:
        pass
    return campaign


class FakeClock:
    def __init__(self, t: float = 0.0):
        self.t = t
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += seconds


# --- quiet hours ---------------------------------------------------------------------------


def _local(day_offset: int, hour: int, minute: int = 0) -> dt.datetime:
    return (timezone.localtime() + dt.timedelta(days=day_offset)).replace(
        hour=hour, minute=minute, second=0, microsecond=0
    )


def test_quiet_hours_defer_email_and_sms_to_their_end_and_deliver_the_inbox(marketer, sms_outbox):
    campaign_settings(quiet_start=dt.time(21, 0), quiet_end=dt.time(9, 0))
    (by_email,) = reachable(1, "email")
    (by_sms,) = reachable(1, "sms")
    (by_inbox,) = reachable(1, "portal")
    campaign = _placed(broadcast(actor=marketer), marketer)
    night = _local(1, 22, 30)  # tomorrow 22:30 in Shanghai
    morning = _local(2, 9, 0)

    outcome = messages_deliver(campaign_id=campaign.pk, now=night)

    assert (outcome.claimed, outcome.deferred) == (3, 2)
    messages = messages_by_customer(campaign)
    for customer in (by_email, by_sms):
        deferred = messages[customer.pk]
        assert (deferred.status, deferred.claimed_at, deferred.sent_at) == (
            MessageStatus.QUEUED,
            None,
            None,
        )
        assert deferred.not_before == morning
        assert str(timezone.localtime(deferred.not_before).tzinfo) == "Asia/Shanghai"
    inbox = messages[by_inbox.pk]
    assert (inbox.status, inbox.delivered_at) == (MessageStatus.DELIVERED, night)
    assert PortalMessage.objects.filter(customer=by_inbox).count() == 1
    assert (mail.outbox, sms_outbox) == ([], [])

    # Still quiet, and nothing is due before the morning.
    assert messages_deliver(campaign_id=campaign.pk, now=night + dt.timedelta(hours=3)).claimed == 0

    outcome = messages_deliver(campaign_id=campaign.pk, now=morning)

    assert (outcome.claimed, outcome.deferred) == (2, 0)
    messages = messages_by_customer(campaign)
    assert [messages[c.pk].status for c in (by_email, by_sms)] == [MessageStatus.SENT] * 2
    assert messages[by_email.pk].sent_at == morning
    assert [m.to for m in mail.outbox] == [[by_email.email]]
    assert [s.to for s in sms_outbox] == [by_sms.phone]


def test_a_message_due_in_the_small_hours_waits_until_nine_the_same_morning(marketer):
    campaign_settings(quiet_start=dt.time(21, 0), quiet_end=dt.time(9, 0))
    reachable(1, "email")
    campaign = _placed(broadcast(actor=marketer, channels=["email"]), marketer)

    messages_deliver(campaign_id=campaign.pk, now=_local(1, 3, 15))

    assert Message.objects.get(campaign=campaign).not_before == _local(1, 9, 0)
    assert mail.outbox == []


@pytest.mark.parametrize(
    ("start", "end", "at", "quiet", "until"),
    [
        ((21, 0), (9, 0), (21, 0), True, (1, 9, 0)),
        ((21, 0), (9, 0), (23, 59), True, (1, 9, 0)),
        ((21, 0), (9, 0), (0, 0), True, (0, 9, 0)),
        ((21, 0), (9, 0), (8, 59), True, (0, 9, 0)),
        ((21, 0), (9, 0), (9, 0), False, None),
        ((21, 0), (9, 0), (20, 59), False, None),
        ((12, 0), (14, 0), (13, 0), True, (0, 14, 0)),  # a daytime window
        ((12, 0), (14, 0), (14, 0), False, None),
        ((9, 0), (9, 0), (3, 0), False, None),  # start == end: never quiet
    ],
)
def test_quiet_hours_window_and_its_end(start, end, at, quiet, until):
    settings_ = campaign_settings(quiet_start=dt.time(*start), quiet_end=dt.time(*end))
    moment = _local(1, *at)
    assert settings_.in_quiet_hours(moment) is quiet
    expected = moment if until is None else _local(1 + until[0], until[1], until[2])
    assert settings_.quiet_until(moment) == expected


# --- pacing --------------------------------------------------------------------------------


def test_the_pacer_sleeps_until_each_channel_is_back_under_its_rate():
    clock = FakeClock()
    pacer = Pacer(rates={"email": 10.0, "sms": 2.0}, clock=clock, sleep=clock.sleep)
    assert pacer.batch_size(500) == 2  # the slowest channel's messages per second

    clock.t = 0.25
    assert pacer.after(Counter(email=5, sms=1)) == 0.25  # 5 / 10 = 1 / 2 = 0.5 s needed
    assert clock.t == 0.5
    assert pacer.after(Counter(email=5)) == 0.5  # 10 e-mails need 1 s
    assert clock.t == 1.0
    clock.t = 3.0
    assert pacer.after(Counter(sms=2)) == 0.0  # 3 SMS need 1.5 s: already past
    assert clock.sleeps == [0.25, 0.5]


def test_the_pacer_ignores_channels_without_a_rate_and_batches_at_least_one():
    clock = FakeClock()
    pacer = Pacer(rates={"email": 0.5}, clock=clock, sleep=clock.sleep)
    assert pacer.batch_size(500) == 1
    assert pacer.after(Counter(portal=10_000)) == 0.0
    assert pacer.after(Counter(email=1)) == 2.0
    assert clock.sleeps == [2.0]


def test_a_send_is_paced_batch_by_batch(marketer):
    reachable(5, "email")
    campaign = _placed(broadcast(actor=marketer, channels=["email"]), marketer)
    clock = FakeClock()
    pacer = Pacer(rates={"email": 2.0}, clock=clock, sleep=clock.sleep)

    done = campaign_send(campaign_id=campaign.pk, pacer=pacer)

    assert (done.sent, done.more) == (5, False)
    assert clock.sleeps == [1.0, 1.0, 0.5]  # batches of 2, 2 and 1 at two a second
    assert len(mail.outbox) == 5


# --- pause, resume, cancel -----------------------------------------------------------------


def test_pause_stops_the_send_mid_way_and_resume_finishes_it(marketer):
    customers = reachable(4, "email")
    campaign = campaign_start(
        campaign=broadcast(actor=marketer, channels=["email"]), actor=marketer
    )
    clock = FakeClock()

    def sleep_then_pause(seconds):  # staff press "pause" while the first batch's wait runs
        clock.sleep(seconds)
        if len(clock.sleeps) == 1:
            campaign_pause(campaign=campaign, actor=marketer)

    pacer = Pacer(rates={"email": 1.0}, clock=clock, sleep=sleep_then_pause)

    done = campaign_send(campaign_id=campaign.pk, pacer=pacer)

    assert (done.placed, done.sent) == (4, 1)
    assert campaign_counts(campaign=campaign) == {"sent": 1, "queued": 3}
    assert campaign_send_task(campaign.pk) == {"placed": 0, "sent": 0, "more": False}
    assert campaign.pk not in campaigns_due()
    assert len(mail.outbox) == 1

    campaign_resume(campaign=campaign, actor=marketer)
    assert campaigns_tick() == [campaign.pk]  # the tick queues the rest (eager: sends it)

    assert campaign_counts(campaign=campaign) == {"sent": 4}
    assert sorted(m.to[0] for m in mail.outbox) == sorted(c.email for c in customers)
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.COMPLETED


def test_cancel_fails_what_is_queued_and_sends_nothing_more(marketer):
    reachable(3, "email")
    campaign = _placed(broadcast(actor=marketer, channels=["email"]), marketer)
    messages_deliver(campaign_id=campaign.pk, limit=1)  # one went before the cancel

    campaign_cancel(campaign=campaign, actor=marketer)
    campaign_send_task(campaign.pk)

    rows = list(Message.objects.filter(campaign=campaign).order_by("pk"))
    assert [(m.status, m.error) for m in rows] == [
        (MessageStatus.SENT, ""),
        (MessageStatus.FAILED, "cancelled"),
        (MessageStatus.FAILED, "cancelled"),
    ]
    assert [m.sent_at is None for m in rows] == [False, True, True]
    assert len(mail.outbox) == 1
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.CANCELLED and campaign.finished_at is not None


def test_cancel_returns_the_cost_reserved_for_unsent_messages_to_the_budget(marketer):
    reachable(3, "email")
    campaign = broadcast(
        actor=marketer, channels=["email"], cost_per_message=Decimal("0.50"), budget=Decimal(10)
    )
    campaign = _placed(campaign, marketer)
    messages_deliver(campaign_id=campaign.pk, limit=1)

    campaign_cancel(campaign=campaign, actor=marketer)

    campaign.refresh_from_db()
    assert sum(m.cost for m in campaign.messages.all()) == Decimal("0.50")
    assert campaign.spent == Decimal("0.50")


# --- a sender that dies, a task delivered twice --------------------------------------------


def test_a_sender_that_died_after_claiming_leaves_its_batch_failed_never_sent_twice(marketer):
    reachable(3, "email")
    campaign = _placed(broadcast(actor=marketer, channels=["email"]), marketer)
    now = timezone.now()
    claimed = _claim(campaign_id=campaign.pk, limit=2, now=now)  # ...and the worker died

    campaign_send_task(campaign.pk)  # another worker sends what is not claimed

    assert len(mail.outbox) == 1
    assert claims_recover(now=now + CLAIM_TIMEOUT - dt.timedelta(seconds=1)) == 0
    assert Message.objects.filter(pk__in=claimed, status=MessageStatus.QUEUED).count() == 2

    assert claims_recover(now=now + CLAIM_TIMEOUT + dt.timedelta(seconds=1)) == 2

    for message in Message.objects.filter(pk__in=claimed):
        assert (message.status, message.error, message.claimed_at, message.sent_at) == (
            MessageStatus.FAILED,
            INTERRUPTED,
            None,
            None,
        )
    campaign_send_task(campaign.pk)
    assert len(mail.outbox) == 1
    assert campaigns_due(now=now + CLAIM_TIMEOUT + dt.timedelta(seconds=2)) == []
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.COMPLETED


def test_a_task_delivered_twice_or_interleaved_sends_each_message_once(marketer, sms_outbox):
    by_email = reachable(3, "email")
    by_sms = reachable(2, "sms")
    campaign = _placed(broadcast(actor=marketer), marketer)

    messages_deliver(campaign_id=campaign.pk, limit=2)  # worker A, first batch
    campaign_send_task(campaign.pk)  # worker B: the rest
    campaign_send_task(campaign.pk)  # a redelivered task
    messages_deliver(campaign_id=campaign.pk, limit=2)  # worker A again

    assert sorted(m.to[0] for m in mail.outbox) == sorted(c.email for c in by_email)
    assert sorted(s.to for s in sms_outbox) == sorted(c.phone for c in by_sms)
    assert campaign_counts(campaign=campaign) == {"sent": 5}


# --- back-end refusals ---------------------------------------------------------------------


def test_an_sms_gateway_refusal_fails_that_message_with_the_reason(
    marketer, sms_outbox, monkeypatch
):
    ok, refused, also_ok = reachable(3, "sms")
    send = LocmemSmsBackend.send

    def gateway(self, *, to, body, reference=""):
        if to == refused.phone:
            raise SmsSendFailed("gateway refused: number barred ***0002", permanent=True)
        return send(self, to=to, body=body, reference=reference)

    monkeypatch.setattr(LocmemSmsBackend, "send", gateway)
    campaign = broadcast(actor=marketer, channels=["sms"])
    campaign_start(campaign=campaign, actor=marketer)

    campaign_send_task(campaign.pk)

    messages = messages_by_customer(campaign)
    failed = messages[refused.pk]
    assert (failed.status, failed.error, failed.provider_id) == (
        MessageStatus.FAILED,
        "gateway refused: number barred ***0002",
        "",
    )
    assert [messages[c.pk].status for c in (ok, also_ok)] == [MessageStatus.SENT] * 2
    assert all(messages[c.pk].provider_id.startswith("locmem-") for c in (ok, also_ok))
    assert sorted(s.to for s in sms_outbox) == sorted([ok.phone, also_ok.phone])


def test_an_smtp_refusal_fails_that_email_and_the_batch_goes_on(marketer, monkeypatch):
    ok, refused = reachable(2, "email")
    send_messages = EmailBackend.send_messages

    def smtp(self, messages):
        if any(refused.email in m.to for m in messages):
            raise smtplib.SMTPRecipientsRefused({refused.email: (550, b"no such user")})
        return send_messages(self, messages)

    monkeypatch.setattr(EmailBackend, "send_messages", smtp)
    campaign = broadcast(actor=marketer, channels=["email"])
    campaign_start(campaign=campaign, actor=marketer)

    campaign_send_task(campaign.pk)

    messages = messages_by_customer(campaign)
    assert messages[refused.pk].status == MessageStatus.FAILED
    assert messages[refused.pk].error == (
        f"SMTPRecipientsRefused: {{'{refused.email}': (550, b'no such user')}}"
    )
    sent = messages[ok.pk]
    assert (sent.status, sent.provider_id) == (
        MessageStatus.SENT,
        f"<campaign-{sent.pk}@clientele.local>",
    )
    assert [m.to for m in mail.outbox] == [[ok.email]]


def test_a_gateway_outage_fails_the_message_it_hit_and_requeues_the_rest(
    marketer, sms_outbox, monkeypatch
):
    """At most once: the text that met the outage may have reached the gateway, so it is failed;
    the rest of the batch was never tried and goes back to the queue for later."""
    reachable(3, "sms")
    campaign = _placed(broadcast(actor=marketer, channels=["sms"]), marketer)
    send = LocmemSmsBackend.send

    def down(self, *, to, body, reference=""):
        raise SmsSendFailed("gateway unavailable after 3 attempts")

    monkeypatch.setattr(LocmemSmsBackend, "send", down)
    now = timezone.now()

    messages_deliver(campaign_id=campaign.pk, now=now)

    first, *rest = Message.objects.filter(campaign=campaign).order_by("pk")
    assert (first.status, first.error) == (
        MessageStatus.FAILED,
        "gateway unavailable after 3 attempts",
    )
    for message in rest:
        assert (message.status, message.error, message.claimed_at, message.sent_at) == (
            MessageStatus.QUEUED,
            GATEWAY_DOWN,
            None,
            None,
        )
        assert message.not_before == now + RETRY_LATER
    assert messages_deliver(campaign_id=campaign.pk, now=now + dt.timedelta(minutes=1)).claimed == 0

    monkeypatch.setattr(LocmemSmsBackend, "send", send)  # the gateway is back
    messages_deliver(campaign_id=campaign.pk, now=now + RETRY_LATER)

    assert [(m.status, m.error) for m in Message.objects.filter(pk__in=[m.pk for m in rest])] == [
        (MessageStatus.SENT, "")
    ] * 2
    assert len(sms_outbox) == 2


# --- every status --------------------------------------------------------------------------


def test_each_outcome_is_recorded_with_its_status(marketer, sms_outbox, monkeypatch):
    campaign = broadcast(actor=marketer, holdout_percent=50)
    (by_email, by_sms, refused, by_inbox), (held,) = split_audience(campaign, treated=4, holdout=1)
    for customer, channel in ((by_sms, "sms"), (refused, "sms"), (by_inbox, "portal")):
        customer.preferred_channel = channel
        customer.save(update_fields=["preferred_channel"])
        grant(customer, channel)
    silent = CustomerFactory()

    def gateway(self, *, to, body, reference=""):
        if to == refused.phone:
            raise SmsSendFailed("rejected", permanent=True)
        return "gw-1"

    monkeypatch.setattr(LocmemSmsBackend, "send", gateway)
    campaign_start(campaign=campaign, actor=marketer)

    campaign_send_task(campaign.pk)

    messages = messages_by_customer(campaign)
    got = {pk: (m.status, m.channel) for pk, m in messages.items()}
    assert got[by_email.pk] == (MessageStatus.SENT, "email")
    assert got[by_sms.pk] == (MessageStatus.SENT, "sms")
    assert got[refused.pk] == (MessageStatus.FAILED, "sms")
    assert got[by_inbox.pk] == (MessageStatus.DELIVERED, "portal")
    assert got[held.pk] == (MessageStatus.HOLDOUT, "email")
    assert got[silent.pk] == (MessageStatus.SUPPRESSED, "")
    assert messages[silent.pk].reason == Suppression.NO_CONSENT
    assert messages[by_inbox.pk].delivered_at == messages[by_inbox.pk].sent_at
    assert messages[by_sms.pk].delivered_at is None  # until the gateway's receipt
    assert campaign_counts(campaign=campaign) == {
        "sent": 2,
        "failed": 1,
        "delivered": 1,
        "holdout": 1,
        "suppressed": 1,
    }


def test_each_member_reads_the_message_in_their_language(marketer, sms_outbox):
    (en,) = reachable(1, "sms", first_name="Mia")
    (zh,) = reachable(1, "sms", first_name="伟", last_name="张", preferred_language="zh-hans")
    campaign = broadcast(actor=marketer, channels=["sms"])
    campaign_start(campaign=campaign, actor=marketer)

    campaign_send_task(campaign.pk)

    bodies = {s.to: s.body for s in sms_outbox}
    assert bodies[en.phone] == "Hi Mia, 0 points Reply T to opt out"
    assert bodies[zh.phone] == "张伟，您有 0 积分 回T退订"
    messages = messages_by_customer(campaign)
    assert (messages[en.pk].language, messages[zh.pk].language) == ("en", "zh-hans")
