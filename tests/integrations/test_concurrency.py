"""Exactly once under racing workers: many attempts at the same delivery at once post it once
(real threads against PostgreSQL, a real receiver)."""

import pytest
from django.db import transaction

from apps.core.events import Event
from apps.integrations.enums import DeliveryStatus
from apps.integrations.models import Delivery
from apps.integrations.sending import delivery_attempt
from apps.integrations.services import endpoint_create, on_event
from tests.concurrency import outcome_kinds, run_concurrently

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_racing_attempts_post_a_delivery_once(receiver, customer):
    receiver.mode = "slow"
    receiver.delay = 0.2  # within the 0.5 s timeout: every racer overlaps the first post
    endpoint, _secret = endpoint_create(
        url=receiver.url, event_types=["customer.erased"], actor=None
    )
    event = Event(
        id="0b9f7a55-3c1e-4e0f-8f43-7a3f3b1c9d10",
        name="customer.erased",
        payload={"customer_id": customer.pk},
    )
    with transaction.atomic():
        on_event(event)  # the send it queues on commit runs here too (eager Celery)
    delivery = Delivery.objects.get(endpoint=endpoint)
    Delivery.objects.filter(pk=delivery.pk).update(status=DeliveryStatus.PENDING, attempts=0)
    receiver.requests.clear()

    outcomes = run_concurrently(8, lambda i: delivery_attempt(delivery_id=delivery.pk), workers=8)

    assert outcome_kinds(outcomes) == {"ok": 8}
    assert sum(value is not None for _status, value in outcomes) == 1
    assert len(receiver.requests) == 1
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SUCCEEDED and delivery.attempts == 1
