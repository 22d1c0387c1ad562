"""What members do with a message: the open pixel, signed click redirects, unsubscribing through
the message's link, and the SMS gateway's delivery receipts. First times are kept; repeats and
altered tokens change nothing."""

import datetime as dt
import re

import pytest
from django.core import mail
from django.utils import timezone

from apps.campaigns.composer import track_token
from apps.campaigns.enums import MessageStatus, Suppression
from apps.campaigns.models import Message
from apps.campaigns.services.lifecycle import campaign_start
from apps.campaigns.services.tracking import (
    message_click_record,
    message_open_record,
    sms_receipt_apply,
)
from apps.campaigns.tasks import campaign_send_task
from apps.core.models import OutboxEvent
from apps.core.sms import SmsReceipt
from apps.customers.services import unsubscribe_apply, unsubscribe_token_make
from tests.campaigns.factories import (
    broadcast,
    campaign_settings,
    messages_by_customer,
    no_quiet_hours,
    reachable,
)

pytestmark = pytest.mark.django_db

REWARDS = "http://127.0.0.1:8000/me/rewards/"


@pytest.fixture(autouse=True)
def _daytime(db):
    no_quiet_hours()


def _sent(actor, **settings):
    campaign = campaign_start(campaign=broadcast(actor=actor, **settings), actor=actor)
    campaign_send_task(campaign.pk)
    return campaign, messages_by_customer(campaign)


def _tokens(email, kind: str) -> list[str]:
    """The tokens of the e-mail's pixel (``o``) or tracked links (``c``)."""
    return re.findall(rf"/{kind}/([^/\"]+)/", email.alternatives[0][0])


def _altered(token: str) -> str:
    return token[:-1] + ("A" if token[-1] != "A" else "B")


# --- opens and clicks ----------------------------------------------------------------------


def test_the_open_pixel_records_the_first_open_and_proves_delivery(marketer):
    (customer,) = reachable(1, "email")
    _campaign, messages = _sent(marketer, channels=["email"])
    (token,) = _tokens(mail.outbox[0], "o")
    first, later = timezone.now(), timezone.now() + dt.timedelta(hours=3)

    assert message_open_record(token=token, at=first) is True
    assert message_open_record(token=token, at=later) is True

    message = Message.objects.get(pk=messages[customer.pk].pk)
    assert (message.status, message.opened_at, message.delivered_at) == (
        MessageStatus.DELIVERED,
        first,
        first,
    )
    assert message.clicked_at is None


def test_a_click_records_once_and_returns_where_the_link_goes(marketer):
    (customer,) = reachable(1, "email")
    _campaign, messages = _sent(marketer, channels=["email"])
    (token,) = _tokens(mail.outbox[0], "c")
    first, later = timezone.now(), timezone.now() + dt.timedelta(days=1)

    assert message_click_record(token=token, at=first) == REWARDS
    assert message_click_record(token=token, at=later) == REWARDS

    message = Message.objects.get(pk=messages[customer.pk].pk)
    assert (message.status, message.clicked_at, message.opened_at, message.delivered_at) == (
        MessageStatus.DELIVERED,
        first,
        first,  # a click is an open too
        first,
    )


def test_an_altered_or_foreign_token_records_nothing(marketer):
    (customer,) = reachable(1, "email")
    _campaign, messages = _sent(marketer, channels=["email"])
    (pixel,) = _tokens(mail.outbox[0], "o")
    (click,) = _tokens(mail.outbox[0], "c")
    message_id = messages[customer.pk].pk

    assert message_click_record(token=_altered(click)) is None
    assert message_open_record(token=_altered(pixel)) is False
    assert message_click_record(token="not-a-token") is None
    assert message_click_record(token=track_token(message_id, "javascript:alert(1)")) is None
    assert message_click_record(token=track_token(message_id + 999, REWARDS)) is None

    message = Message.objects.get(pk=message_id)
    assert (message.status, message.opened_at, message.clicked_at) == (
        MessageStatus.SENT,
        None,
        None,
    )


def test_the_click_redirect_and_the_pixel_over_http(marketer, client):
    reachable(1, "email")
    _sent(marketer, channels=["email"])
    (pixel,) = _tokens(mail.outbox[0], "o")
    (click,) = _tokens(mail.outbox[0], "c")

    assert client.get(f"/c/{click}/").headers["Location"] == REWARDS
    assert client.get(f"/c/{_altered(click)}/").status_code == 404
    opened = client.get(f"/o/{pixel}/")
    assert (opened.status_code, opened["Content-Type"]) == (200, "image/gif")


def test_without_tracking_the_email_has_no_pixel_and_plain_links(marketer):
    campaign_settings(tracking=False)
    reachable(1, "email")
    _sent(marketer, channels=["email"])

    html = mail.outbox[0].alternatives[0][0]
    assert _tokens(mail.outbox[0], "o") == [] and _tokens(mail.outbox[0], "c") == []
    assert f'href="{REWARDS}"' in html


# --- unsubscribing through the message -----------------------------------------------------


def _unsubscribe_token(email) -> str:
    return re.search(r"/u/([^/]+)/", email.extra_headers["List-Unsubscribe"]).group(1)


def test_an_unsubscribe_is_put_on_the_latest_message_and_stops_the_next_campaign(
    marketer, django_capture_on_commit_callbacks
):
    (customer,) = reachable(1, "email")
    _first, earlier = _sent(marketer, channels=["email"])
    Message.objects.filter(pk=earlier[customer.pk].pk).update(
        sent_at=timezone.now() - dt.timedelta(days=2)
    )
    _second, latest = _sent(marketer, channels=["email"])
    token = _unsubscribe_token(mail.outbox[-1])

    with django_capture_on_commit_callbacks(execute=True):
        _c, channel, purpose, changed = unsubscribe_apply(token=token, one_click=True)
    with django_capture_on_commit_callbacks(execute=True):
        again = unsubscribe_apply(token=token, one_click=True)

    assert (channel, purpose, changed, again[3]) == ("email", "marketing", True, False)
    assert OutboxEvent.objects.filter(name="customer.unsubscribed").count() == 1
    event = OutboxEvent.objects.get(name="customer.unsubscribed")
    assert Message.objects.get(pk=latest[customer.pk].pk).unsubscribed_at == event.created_at
    assert Message.objects.get(pk=earlier[customer.pk].pk).unsubscribed_at is None

    _third, after = _sent(marketer, channels=["email"])
    assert (after[customer.pk].status, after[customer.pk].reason) == (
        MessageStatus.SUPPRESSED,
        Suppression.UNSUBSCRIBED,
    )


def test_an_sms_unsubscribe_is_not_put_on_an_email(marketer, django_capture_on_commit_callbacks):
    (customer,) = reachable(1, "email")
    _campaign, messages = _sent(marketer, channels=["email"])
    sms_token = unsubscribe_token_make(customer=customer, channel="sms", purpose="marketing")

    with django_capture_on_commit_callbacks(execute=True):
        *_rest, changed = unsubscribe_apply(token=sms_token)

    assert changed is True  # the "no" to SMS is recorded...
    assert OutboxEvent.objects.get(name="customer.unsubscribed").payload["channel"] == "sms"
    # ...and put on no message: the member never had a text from us.
    assert Message.objects.get(pk=messages[customer.pk].pk).unsubscribed_at is None


# --- SMS receipts --------------------------------------------------------------------------


def test_sms_receipts_mark_delivery_or_failure_once(marketer, sms_outbox):
    delivered, failed = reachable(2, "sms")
    _campaign, messages = _sent(marketer, channels=["sms"])
    ids = {c: messages[c.pk].provider_id for c in (delivered, failed)}
    assert all(i.startswith("locmem-") for i in ids.values())
    at = timezone.now() + dt.timedelta(minutes=2)

    ok = SmsReceipt(provider_id=ids[delivered], status="delivered", reason="", at=at)
    bad = SmsReceipt(provider_id=ids[failed], status="failed", reason="UNDELIV: absent", at=at)
    assert sms_receipt_apply(receipt=ok) is True
    assert sms_receipt_apply(receipt=bad) is True
    # Repeats, late contradictions and unknown ids change nothing.
    assert sms_receipt_apply(receipt=ok) is False
    assert sms_receipt_apply(receipt=SmsReceipt(ids[delivered], "failed", "late", at)) is False
    assert sms_receipt_apply(receipt=SmsReceipt("locmem-999", "delivered", "", at)) is False

    messages = messages_by_customer(_campaign)
    assert (messages[delivered.pk].status, messages[delivered.pk].delivered_at) == (
        MessageStatus.DELIVERED,
        at,
    )
    assert (messages[failed.pk].status, messages[failed.pk].error) == (
        MessageStatus.FAILED,
        "UNDELIV: absent",
    )
    assert messages[failed.pk].delivered_at is None
