"""The points-expiring reminder end to end: the loyalty engine marks the lots and publishes
``points.expiring``; the built-in journey (``Campaign.builtin == "points-expiring"``) sends the
message after commit, under the consent, frequency cap and quiet hours every campaign obeys.
Celery is eager in tests and the outbox delivers on commit, so each run sits inside
``django_capture_on_commit_callbacks(execute=True)``."""

import datetime as dt
import threading
from importlib import import_module

import pytest
from django.apps import apps
from django.core import mail
from django.db import connection
from django.utils import formats, timezone, translation

from apps.campaigns.enums import MessageStatus, Suppression
from apps.campaigns.models import Campaign, CampaignSettings, Message
from apps.campaigns.services.delivery import messages_deliver
from apps.core.events import outbox_deliver
from apps.core.models import OutboxEvent
from apps.customers.models import Customer, PortalMessage
from apps.loyalty.models import PointsLot
from apps.loyalty.services import bonus_award, points_adjust
from apps.loyalty.services.reminders import points_expiring_remind
from tests.accounts.factories import UserFactory
from tests.campaigns.factories import grant
from tests.customers.factories import CustomerFactory
from tests.loyalty.factories import ProgrammeFactory

pytestmark = pytest.mark.django_db

BUILTIN = import_module("apps.campaigns.migrations.0004_points_expiring_journey")


@pytest.fixture
def journey(db):
    """The built-in journey its data migration made (made again when a transactional test
    before this one flushed the tables)."""
    BUILTIN.create(apps, None)
    return Campaign.objects.get(builtin=BUILTIN.SLUG)


@pytest.fixture
def programme(db):
    return ProgrammeFactory()  # rolling 12 months, reminders 30 days ahead


@pytest.fixture
def daytime(db):
    """No quiet hours (start == end), so the e-mail goes at once whatever the hour of the run."""
    settings_ = CampaignSettings.get()
    settings_.quiet_start = settings_.quiet_end = dt.time(9, 0)
    settings_.save()
    return settings_


def _expiring(customer, points: int) -> PointsLot:
    """A lot earned 355 days ago: it expires in about ten days, inside the reminder window then
    and when the journey sends (it reads the member's lots at send time)."""
    bonus_award(
        customer=customer,
        points=points,
        key=f"expiring:{customer.pk}",
        reason="test",
        at=timezone.now() - dt.timedelta(days=355),
    )
    return PointsLot.objects.filter(account__customer=customer).latest("id")


def _fresh(customer, points: int) -> None:
    """Points earned today: in the balance, not expiring within the window."""
    bonus_award(customer=customer, points=points, key=f"fresh:{customer.pk}", reason="test")


def _remind(capture) -> int:
    with capture(execute=True):
        return points_expiring_remind()


def _messages(journey) -> dict[int, Message]:
    return {m.customer_id: m for m in Message.objects.filter(campaign=journey)}


def _date(lot: PointsLot, lang: str) -> str:
    with translation.override(lang):
        return formats.date_format(timezone.localdate(lot.expires_at), "DATE_FORMAT")


def test_each_member_gets_one_email_in_their_language_with_the_expiring_points(
    journey, programme, daytime, django_capture_on_commit_callbacks
):
    en = CustomerFactory(preferred_language="en", first_name="Mia")
    zh = CustomerFactory(preferred_language="zh-hans")
    en_lot = _expiring(en, 300)
    _fresh(en, 100)
    zh_lot = _expiring(zh, 420)

    assert _remind(django_capture_on_commit_callbacks) == 2

    events = {
        e.payload["customer_id"]: e for e in OutboxEvent.objects.filter(name="points.expiring")
    }
    messages = _messages(journey)
    assert set(messages) == {en.pk, zh.pk}
    for customer_id, message in messages.items():
        assert message.step == f"event:{events[customer_id].pk}"
        assert (message.status, message.channel) == (MessageStatus.SENT, "email")
    by_address = {m.to[0]: m for m in mail.outbox}
    assert len(mail.outbox) == 2 and set(by_address) == {en.email, zh.email}
    english = by_address[en.email]
    assert english.subject == "Your points expire soon"
    assert english.body.startswith("Hello Mia,")
    assert f"300 of your 400 points expire on {_date(en_lot, 'en')}." in english.body
    assert "300" in english.alternatives[0][0]
    chinese = by_address[zh.email]
    assert chinese.subject == "您的积分即将过期"
    assert f"有 420 积分将于 {_date(zh_lot, 'zh-hans')} 过期" in chinese.body
    assert "年" in _date(zh_lot, "zh-hans")
    assert not PortalMessage.objects.exists()  # one channel per member


def test_a_repeat_run_or_a_redelivered_event_sends_nothing_more(
    journey, programme, daytime, django_capture_on_commit_callbacks
):
    customer = CustomerFactory()
    _expiring(customer, 200)
    assert _remind(django_capture_on_commit_callbacks) == 1
    assert _remind(django_capture_on_commit_callbacks) == 0
    # The outbox delivers at least once: the same event again places nobody twice.
    event = OutboxEvent.objects.get(name="points.expiring")
    OutboxEvent.objects.filter(pk=event.pk).update(delivered_at=None, done=[])
    with django_capture_on_commit_callbacks(execute=True):
        outbox_deliver(str(event.pk))
    assert Message.objects.filter(campaign=journey).count() == 1
    assert len(mail.outbox) == 1


def test_service_consent_decides_the_channel_and_anonymised_members_get_nothing(
    journey, programme, daytime, django_capture_on_commit_callbacks
):
    no_marketing = CustomerFactory()  # a service message needs no marketing consent
    grant(no_marketing, "email", purpose="marketing", granted=False)
    inbox_only = CustomerFactory(preferred_language="en")
    grant(inbox_only, "email", purpose="service", granted=False)
    nowhere = CustomerFactory()
    grant(nowhere, "email", "portal", purpose="service", granted=False)
    gone = CustomerFactory()
    for customer in (no_marketing, inbox_only, nowhere, gone):
        _expiring(customer, 150)
    Customer.objects.filter(pk=gone.pk).update(anonymized_at=timezone.now())

    assert _remind(django_capture_on_commit_callbacks) == 4

    messages = _messages(journey)
    assert (messages[no_marketing.pk].status, messages[no_marketing.pk].channel) == (
        MessageStatus.SENT,
        "email",
    )
    assert (messages[inbox_only.pk].status, messages[inbox_only.pk].channel) == (
        MessageStatus.DELIVERED,
        "portal",
    )
    assert (messages[nowhere.pk].status, messages[nowhere.pk].reason) == (
        MessageStatus.SUPPRESSED,
        Suppression.UNSUBSCRIBED,
    )
    assert (messages[gone.pk].status, messages[gone.pk].reason) == (
        MessageStatus.SUPPRESSED,
        Suppression.ANONYMISED,
    )
    assert [m.to for m in mail.outbox] == [[no_marketing.email]]
    (inbox,) = PortalMessage.objects.all()
    assert inbox.customer_id == inbox_only.pk and inbox.kind == PortalMessage.Kind.CAMPAIGN
    assert (
        inbox.subject_en == "Your points expire soon" and "150 of your 150 points" in inbox.body_en
    )


def test_the_frequency_cap_holds_for_the_reminder_too(
    journey, programme, daytime, django_capture_on_commit_callbacks
):
    CampaignSettings.objects.filter(pk=daytime.pk).update(frequency_cap=1)
    customer = CustomerFactory()
    other = Campaign.objects.create(name="Spring sale", kind="broadcast", status="completed")
    Message.objects.create(
        campaign=other,
        step="send",
        customer=customer,
        status=MessageStatus.SENT,
        channel="email",
        sent_at=timezone.now(),
    )
    _expiring(customer, 150)

    assert _remind(django_capture_on_commit_callbacks) == 1

    message = Message.objects.get(campaign=journey)
    assert (message.status, message.reason) == (MessageStatus.SUPPRESSED, Suppression.FREQUENCY_CAP)
    assert mail.outbox == []


def _quiet_now() -> CampaignSettings:
    """Quiet hours from an hour ago to an hour from now."""
    local = timezone.localtime().replace(second=0, microsecond=0)
    settings_ = CampaignSettings.get()
    settings_.quiet_start = (local - dt.timedelta(hours=1)).time()
    settings_.quiet_end = (local + dt.timedelta(hours=1)).time()
    settings_.save()
    return settings_


def test_quiet_hours_defer_the_email_and_deliver_the_inbox_message(
    journey, programme, django_capture_on_commit_callbacks
):
    settings_ = _quiet_now()
    by_email = CustomerFactory(preferred_language="en")
    by_inbox = CustomerFactory(preferred_language="en")
    grant(by_inbox, "email", purpose="service", granted=False)
    _expiring(by_email, 250)
    _expiring(by_inbox, 120)

    assert _remind(django_capture_on_commit_callbacks) == 2

    messages = _messages(journey)
    deferred = messages[by_email.pk]
    assert deferred.status == MessageStatus.QUEUED and deferred.claimed_at is None
    assert deferred.not_before > timezone.now()
    assert timezone.localtime(deferred.not_before).time() == settings_.quiet_end
    assert mail.outbox == []
    assert messages[by_inbox.pk].status == MessageStatus.DELIVERED
    assert PortalMessage.objects.get().customer_id == by_inbox.pk
    # Deferred, not dropped: when the quiet hours end the e-mail goes.
    messages_deliver(campaign_id=journey.pk, now=deferred.not_before)
    assert [m.to for m in mail.outbox] == [[by_email.email]]
    assert "250 of your 250 points" in mail.outbox[0].body


def test_no_reminder_goes_when_the_points_are_gone_by_the_time_it_is_sent(
    journey, programme, manager, django_capture_on_commit_callbacks
):
    _quiet_now()
    customer = CustomerFactory(preferred_language="en")
    _expiring(customer, 400)
    _fresh(customer, 100)
    assert _remind(django_capture_on_commit_callbacks) == 1
    points_adjust(customer=customer, points=-400, reason="spent in store", actor=manager)
    deferred = Message.objects.get(campaign=journey)
    messages_deliver(campaign_id=journey.pk, now=deferred.not_before)
    # "0 of your 100 points expire on ." would tell the member something no longer true.
    deferred.refresh_from_db()
    assert (deferred.status, deferred.reason) == (MessageStatus.SUPPRESSED, Suppression.OUTDATED)
    assert mail.outbox == []


def test_an_unverified_portal_address_gets_the_inbox_message_instead(
    journey, programme, daytime, django_capture_on_commit_callbacks
):
    user = UserFactory(email="unverified@example.org")
    user.emailaddress_set.create(email=user.email, verified=False, primary=True)
    customer = CustomerFactory(user=user, email=user.email, preferred_language="en")
    _expiring(customer, 100)
    assert _remind(django_capture_on_commit_callbacks) == 1
    message = Message.objects.get(campaign=journey)
    assert (message.status, message.channel) == (MessageStatus.DELIVERED, "portal")
    assert mail.outbox == [] and PortalMessage.objects.get().customer_id == customer.pk


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_reminder_runs_email_each_member_once(journey, programme, daytime):
    customers = [CustomerFactory() for _ in range(20)]
    for customer in customers:
        _expiring(customer, 100)
    results, barrier = [], threading.Barrier(4)

    def run():
        try:
            barrier.wait()
            results.append(points_expiring_remind(chunk=3))
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(results) == 20
    assert Message.objects.filter(campaign=journey, status=MessageStatus.SENT).count() == 20
    assert sorted(m.to[0] for m in mail.outbox) == sorted(c.email for c in customers)
