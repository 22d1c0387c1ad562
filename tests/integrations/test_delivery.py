"""Deliveries end to end: a service publishes, the outbox hands the event to the webhook
subscriber, the sender posts to a real receiver in a thread. The receiver answers, fails with a
500, times out, or is not there; the delivery records each, backs off, gives up, is replayed,
and an endpoint that keeps failing is disabled."""

import datetime as dt
import json
from decimal import Decimal

import pytest
from django.core import mail
from django.db import transaction
from django.utils import timezone

from apps.core import events
from apps.core.models import AuditEvent, OutboxEvent
from apps.integrations import sending
from apps.integrations.enums import DeliveryStatus
from apps.integrations.exceptions import NotReplayable
from apps.integrations.models import Delivery, Endpoint
from apps.integrations.services import (
    delivery_replay,
    endpoint_disable,
    endpoint_enable,
    endpoint_test_send,
    on_event,
)
from apps.integrations.signing import signature_verify
from apps.integrations.tasks import webhook_retry_due
from apps.loyalty.services import order_ingest
from tests.loyalty.factories import ProgrammeFactory

from .receiver import down_url

pytestmark = pytest.mark.django_db


@pytest.fixture
def buy(store, customer, django_capture_on_commit_callbacks):
    """Post an order for Wei through the loyalty engine and run what it queued on commit (the
    outbox delivery, then the webhook attempt)."""
    ProgrammeFactory()
    counter = {"n": 0}

    def _buy(total="100.00"):
        counter["n"] += 1
        with django_capture_on_commit_callbacks(execute=True):
            order, _created, _outcome = order_ingest(
                store=store,
                external_id=f"W-{counter['n']}",
                customer=customer,
                placed_at=timezone.now(),
                total=Decimal(total),
            )
        return order

    return _buy


def _due_now(delivery: Delivery) -> None:
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())


def test_an_earned_order_is_delivered_signed_to_the_receiver(receiver, make_endpoint, buy):
    endpoint = make_endpoint(receiver.url)
    order = buy("100.00")
    assert len(receiver.requests) == 1
    request = receiver.requests[0]
    delivery = Delivery.objects.get(endpoint=endpoint)
    assert request.path == "/hooks/clientele"
    assert request.headers["Clientele-Event"] == "order.earned"
    assert request.headers["Clientele-Delivery"] == str(delivery.pk)
    assert request.headers["Content-Type"] == "application/json"
    assert signature_verify(
        secret=endpoint.secret, header=request.headers["Clientele-Signature"], body=request.body
    )
    body = json.loads(request.body)
    assert body["type"] == "order.earned" and body["id"] == str(delivery.event_id)
    assert body["data"]["member_number"] == "1234567897"
    assert body["data"]["order"] == {
        "external_id": order.external_id,
        "store": "sh-01",
        "placed_at": order.placed_at.isoformat(),
        "total": "100.00",
        "currency": "CNY",
    }
    assert delivery.status == DeliveryStatus.SUCCEEDED and delivery.attempts == 1
    assert delivery.response_code == 200 and delivery.response_snippet == "thanks"
    assert delivery.delivered_at is not None and delivery.duration_ms is not None
    endpoint.refresh_from_db()
    assert endpoint.last_status_code == 200 and endpoint.consecutive_failures == 0


def test_a_500_is_recorded_and_retried_with_back_off(receiver, make_endpoint, buy):
    receiver.mode = "error"
    endpoint = make_endpoint(receiver.url)
    before = timezone.now()
    buy()
    delivery = Delivery.objects.get(endpoint=endpoint)
    assert delivery.status == DeliveryStatus.RETRYING and delivery.attempts == 1
    assert delivery.response_code == 500
    assert delivery.response_snippet == "boom: database on fire"
    # First back-off: 30 s with jitter in [0.5, 1.0).
    wait = delivery.next_attempt_at - before
    assert dt.timedelta(seconds=15) <= wait <= dt.timedelta(seconds=31)
    endpoint.refresh_from_db()
    assert endpoint.consecutive_failures == 1 and endpoint.last_status_code == 500
    assert endpoint.failing_since is not None and endpoint.active

    # Not due yet: the sweep leaves it alone.
    assert webhook_retry_due() == 0
    assert len(receiver.requests) == 1
    # Due, and the receiver is well again: the sweep delivers it and the streak ends.
    receiver.mode = "ok"
    _due_now(delivery)
    assert webhook_retry_due() == 1
    delivery.refresh_from_db()
    endpoint.refresh_from_db()
    assert delivery.status == DeliveryStatus.SUCCEEDED and delivery.attempts == 2
    assert endpoint.consecutive_failures == 0 and endpoint.failing_since is None
    assert len(receiver.requests) == 2
    assert receiver.requests[0].body == receiver.requests[1].body


def test_a_receiver_that_times_out_is_a_failed_attempt(receiver, make_endpoint, buy):
    receiver.mode = "slow"
    endpoint = make_endpoint(receiver.url)
    started = timezone.now()
    buy()
    took = timezone.now() - started
    delivery = Delivery.objects.get(endpoint=endpoint)
    assert delivery.status == DeliveryStatus.RETRYING
    assert delivery.response_code is None and delivery.error == "timeout"
    assert took < dt.timedelta(seconds=receiver.delay)  # gave up after the 0.5 s timeout


def test_a_receiver_that_is_down_is_a_failed_attempt(make_endpoint, buy):
    endpoint = make_endpoint(down_url())
    buy()
    delivery = Delivery.objects.get(endpoint=endpoint)
    assert delivery.status == DeliveryStatus.RETRYING and delivery.response_code is None
    assert "ConnectionRefused" in delivery.error


def test_after_the_last_attempt_the_delivery_fails_and_a_replay_sends_it_again(
    receiver, make_endpoint, buy, administrator, django_capture_on_commit_callbacks
):
    receiver.mode = "error"
    endpoint = make_endpoint(receiver.url)
    buy()
    delivery = Delivery.objects.get(endpoint=endpoint)
    for _ in range(3):  # WEBHOOK_MAX_ATTEMPTS is 4 here
        _due_now(delivery)
        webhook_retry_due()
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED and delivery.attempts == 4
    assert delivery.next_attempt_at is None
    _due_now(delivery)
    assert webhook_retry_due() == 0  # given up: the sweep does not touch it

    receiver.mode = "ok"
    with django_capture_on_commit_callbacks(execute=True):
        delivery_replay(delivery=delivery, actor=administrator)
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SUCCEEDED
    assert delivery.attempts == 5 and delivery.round_attempts == 1
    assert delivery.replayed_by == administrator
    assert len(receiver.requests) == 5
    assert AuditEvent.objects.filter(action="webhook.delivery_replay").count() == 1
    with pytest.raises(NotReplayable):
        delivery_replay(delivery=delivery, actor=administrator)


def test_repeated_failures_disable_the_endpoint_and_enabling_resumes(
    receiver, make_endpoint, buy, settings, administrator, django_capture_on_commit_callbacks
):
    settings.WEBHOOK_DISABLE_AFTER_FAILURES = 3
    receiver.mode = "error"
    endpoint = make_endpoint(receiver.url)
    buy()
    buy()
    buy()
    endpoint.refresh_from_db()
    assert not endpoint.active and endpoint.disabled_at is not None
    assert endpoint.disabled_automatically
    assert "3 consecutive failed attempts" in endpoint.disabled_reason
    assert AuditEvent.objects.filter(action="webhook.endpoint_disable", actor=None).count() == 1
    (notice,) = mail.outbox
    assert (
        notice.to == [administrator.email] and "Webhook endpoint disabled: Shop" in notice.subject
    )
    assert f"/staff/integrations/{endpoint.pk}/" in notice.body and "3 consecutive" in notice.body
    # Disabled: new events make no deliveries (nor outbox rows: the sender's disable made the
    # event unwanted), and due ones wait.
    outbox_before = OutboxEvent.objects.filter(name="order.earned").count()
    buy()
    assert Delivery.objects.filter(endpoint=endpoint).count() == 3
    assert OutboxEvent.objects.filter(name="order.earned").count() == outbox_before
    Delivery.objects.update(next_attempt_at=timezone.now())
    assert webhook_retry_due() == 0
    assert len(receiver.requests) == 3

    receiver.mode = "ok"
    with django_capture_on_commit_callbacks(execute=True):
        endpoint_enable(endpoint=endpoint, actor=administrator)
    endpoint.refresh_from_db()
    assert endpoint.active and endpoint.consecutive_failures == 0 and not endpoint.disabled_reason
    assert set(Delivery.objects.values_list("status", flat=True)) == {DeliveryStatus.SUCCEEDED}
    assert len(receiver.requests) == 6


def test_one_delivery_per_endpoint_and_event_however_often_the_event_arrives(
    receiver, make_endpoint, customer, store, django_capture_on_commit_callbacks
):
    endpoint = make_endpoint(receiver.url, events=["consent.changed"])
    event = events.Event(
        id="7d0c7f7e-7a43-4a8e-9d57-2f1f4d0d2f11",
        name="consent.changed",
        payload={
            "customer_id": customer.pk,
            "channel": "email",
            "purpose": "marketing",
            "granted": True,
            "source": "staff",
        },
    )
    with django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic():
            assert on_event(event) == 1
        with transaction.atomic():
            on_event(event)  # the outbox delivered the event again
    assert Delivery.objects.filter(endpoint=endpoint).count() == 1
    assert len(receiver.requests) == 1
    # A stray second attempt of a delivered delivery sends nothing.
    assert sending.delivery_attempt(delivery_id=Delivery.objects.get().pk) is None
    assert len(receiver.requests) == 1


def test_only_active_endpoints_subscribed_to_the_event_get_it(
    receiver, make_endpoint, buy, administrator
):
    wanted = make_endpoint(receiver.url)
    make_endpoint(receiver.url, events=["ticket.opened"])
    paused = make_endpoint(receiver.url)
    Endpoint.objects.filter(pk=paused.pk).update(active=False)
    buy()
    assert list(Delivery.objects.values_list("endpoint_id", flat=True)) == [wanted.pk]


def test_a_test_event_is_tried_once_and_leaves_the_counters_alone(
    receiver, make_endpoint, administrator, django_capture_on_commit_callbacks
):
    receiver.mode = "error"
    endpoint = make_endpoint(receiver.url)
    with django_capture_on_commit_callbacks(execute=True):
        delivery = endpoint_test_send(endpoint=endpoint, actor=administrator)
    delivery.refresh_from_db()
    endpoint.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED and delivery.attempts == 1
    assert endpoint.consecutive_failures == 0
    assert receiver.requests[0].headers["Clientele-Event"] == "webhook.test"


def test_back_off_doubles_with_jitter_and_is_capped(settings):
    settings.WEBHOOK_BACKOFF_BASE_SECONDS = 30
    settings.WEBHOOK_BACKOFF_MAX_SECONDS = 3600
    low = [sending.backoff_delay(n, rand=lambda: 0.0).total_seconds() for n in range(1, 9)]
    high = [sending.backoff_delay(n, rand=lambda: 0.999).total_seconds() for n in range(1, 9)]
    assert low == [15, 30, 60, 120, 240, 480, 960, 1800]
    assert high[0] == pytest.approx(29.985) and high[-1] == pytest.approx(3598.2)


def test_an_event_no_endpoint_subscribes_to_writes_no_outbox_row(
    receiver, make_endpoint, buy, administrator
):
    buy()
    assert not OutboxEvent.objects.filter(name="order.earned").exists()
    make_endpoint(receiver.url, events=["ticket.opened"])
    buy()
    assert not OutboxEvent.objects.filter(name="order.earned").exists()
    endpoint = make_endpoint(receiver.url)  # order.earned: from now on it is wanted
    buy()
    assert OutboxEvent.objects.filter(name="order.earned").count() == 1
    assert Delivery.objects.filter(endpoint=endpoint).count() == 1
    endpoint_disable(endpoint=endpoint, actor=administrator)
    buy()
    assert OutboxEvent.objects.filter(name="order.earned").count() == 1
