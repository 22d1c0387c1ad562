"""SMS delivery receipts: signed by the gateway, applied to the message the gateway's id names."""

import hashlib
import hmac
import json

import pytest
from rest_framework.test import APIClient

from apps.campaigns.enums import MessageStatus
from apps.campaigns.models import Message
from apps.campaigns.services.lifecycle import campaign_start
from apps.campaigns.tasks import campaign_send_task
from tests.campaigns.factories import broadcast, grant, no_quiet_hours
from tests.customers.factories import CustomerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _daytime(db):
    no_quiet_hours()  # e-mail and SMS go whatever the hour the suite runs


URL = "/api/v1/sms/receipts/"
SECRET = "receipt-secret"


def _post(payload, secret=SECRET):
    body = json.dumps(payload).encode()
    signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return APIClient().post(
        URL, data=body, content_type="application/json", HTTP_X_SIGNATURE=signature
    )


@pytest.fixture
def sent_sms(settings, marketer, sms_outbox):
    settings.SMS_HTTP_RECEIPT_SECRET = SECRET
    customer = CustomerFactory(preferred_channel="sms")
    grant(customer, "sms")
    campaign = broadcast(actor=marketer, channels=["sms"])
    campaign_start(campaign=campaign, actor=marketer)
    campaign_send_task(campaign.pk)
    message = Message.objects.get(campaign=campaign)
    assert message.status == MessageStatus.SENT and message.provider_id
    return message


def test_a_signed_delivered_receipt_marks_the_message_delivered(sent_sms):
    response = _post({"id": sent_sms.provider_id, "status": "DELIVRD"})
    assert response.status_code == 200
    assert response.json() == {"applied": 1, "ignored": 0}
    sent_sms.refresh_from_db()
    assert sent_sms.status == MessageStatus.DELIVERED and sent_sms.delivered_at is not None


def test_a_failed_receipt_records_the_gateways_reason(sent_sms):
    _post([{"id": sent_sms.provider_id, "status": "undelivered", "error": "number unreachable"}])
    sent_sms.refresh_from_db()
    assert sent_sms.status == MessageStatus.FAILED
    assert "unreachable" in sent_sms.error


def test_intermediate_and_unknown_receipts_change_nothing(sent_sms):
    response = _post(
        [{"id": sent_sms.provider_id, "status": "enroute"}, {"id": "nope", "status": "delivered"}]
    )
    assert response.json() == {"applied": 0, "ignored": 2}
    sent_sms.refresh_from_db()
    assert sent_sms.status == MessageStatus.SENT


def test_a_bad_signature_is_refused_and_changes_nothing(sent_sms):
    response = _post({"id": sent_sms.provider_id, "status": "delivered"}, secret="wrong")
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"
    sent_sms.refresh_from_db()
    assert sent_sms.status == MessageStatus.SENT


def test_without_a_secret_every_receipt_is_refused(sent_sms, settings):
    settings.SMS_HTTP_RECEIPT_SECRET = ""
    assert _post({"id": sent_sms.provider_id, "status": "delivered"}).status_code == 403


def test_a_body_that_is_not_json_is_a_clear_400(sent_sms):
    body = b"not json"
    signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    response = APIClient().post(
        URL, data=body, content_type="application/json", HTTP_X_SIGNATURE=signature
    )
    assert response.status_code == 400 and response.json()["code"] == "validation_error"
