"""A broadcast from start to finish through the Celery tasks (eager in tests): placement,
suppression, the three channels, headers, the holdout, completion."""

import pytest
from django.core import mail

from apps.campaigns.enums import CampaignStatus, MessageStatus, Suppression
from apps.campaigns.models import Message
from apps.campaigns.services.lifecycle import campaign_start
from apps.campaigns.tasks import campaign_send_task
from apps.core import sms
from apps.customers.models import PortalMessage
from tests.campaigns.factories import broadcast, grant, no_quiet_hours
from tests.customers.factories import CustomerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _daytime(db):
    no_quiet_hours()  # e-mail and SMS go whatever the hour the suite runs


def test_broadcast_reaches_each_member_on_one_channel_and_records_the_rest(marketer, sms_outbox):
    by_email = CustomerFactory(preferred_channel="email", preferred_language="en")
    by_sms = CustomerFactory(preferred_channel="sms", preferred_language="zh-hans")
    inbox_only = CustomerFactory(preferred_channel="portal", email="")
    silent = CustomerFactory()  # never consented
    gone = CustomerFactory()
    grant(by_email, "email")
    grant(by_sms, "sms", "email")
    grant(inbox_only, "portal", "email")  # no address: the inbox takes it
    grant(gone, "email", granted=False)
    campaign = broadcast(actor=marketer)
    campaign_start(campaign=campaign, actor=marketer)
    campaign_send_task(campaign.pk)

    messages = {m.customer_id: m for m in Message.objects.filter(campaign=campaign)}
    assert messages[by_email.pk].status == MessageStatus.SENT
    assert messages[by_email.pk].channel == "email"
    assert messages[by_sms.pk].channel == "sms"
    assert messages[inbox_only.pk].status == MessageStatus.DELIVERED
    assert messages[inbox_only.pk].channel == "portal"
    assert (messages[silent.pk].status, messages[silent.pk].reason) == (
        MessageStatus.SUPPRESSED,
        Suppression.NO_CONSENT,
    )
    assert messages[gone.pk].reason == Suppression.UNSUBSCRIBED
    (email,) = mail.outbox
    assert email.to == [by_email.email]
    assert email.subject == f"Hello {by_email.greeting_name}"
    assert email.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "/u/" in email.extra_headers["List-Unsubscribe"]
    html = email.alternatives[0][0]
    assert "/o/" in html and "/c/" in html  # the pixel and a tracked link
    (sms,) = sms_outbox
    assert sms.to == by_sms.phone and "积分" in sms.body and "回T退订" in sms.body
    inbox = PortalMessage.objects.get(customer=inbox_only)
    assert inbox.kind == "campaign"
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.COMPLETED


def test_a_second_run_sends_nothing_more(marketer, sms_outbox):
    customer = CustomerFactory()
    grant(customer, "email")
    campaign = broadcast(actor=marketer)
    campaign_start(campaign=campaign, actor=marketer)
    campaign_send_task(campaign.pk)
    campaign_send_task(campaign.pk)
    assert len(mail.outbox) == 1
    assert Message.objects.filter(campaign=campaign).count() == 1


def test_a_gateway_outage_sends_the_rest_of_the_batch_back_to_the_queue(
    marketer, sms_outbox, monkeypatch
):
    customers = [CustomerFactory(preferred_channel="sms") for _ in range(3)]
    for customer in customers:
        grant(customer, "sms")
    calls = []

    def down(self, *, to, body, reference=""):
        calls.append(to)
        raise sms.SmsSendFailed("gateway unavailable after 4 attempts: 503", permanent=False)

    monkeypatch.setattr(sms.LocmemSmsBackend, "send", down)
    campaign = broadcast(actor=marketer, channels=["sms"])
    campaign_start(campaign=campaign, actor=marketer)
    campaign_send_task(campaign.pk)

    assert len(calls) == 1  # the first failure stops the batch: no 23-second wait per message
    statuses = sorted(Message.objects.filter(campaign=campaign).values_list("status", flat=True))
    assert statuses == ["failed", "queued", "queued"]
    later = Message.objects.filter(campaign=campaign, status="queued")
    assert all(m.not_before > m.created_at and m.claimed_at is None for m in later)
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.RUNNING  # not complete while messages wait
