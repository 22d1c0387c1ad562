"""One attempt at a delivery, its record, the back-off and the automatic disabling; and the
Celery task that runs an attempt (``integrations.webhook_send``).

An attempt first claims the delivery with one conditional UPDATE (open, due, endpoint active)
that pushes ``next_attempt_at`` past the attempt's longest possible run: two workers never post
the same delivery at once, and a worker lost mid-attempt leaves a delivery the retry sweep picks
up again once the claim runs out. The HTTP request runs outside any transaction; its outcome is
recorded in one transaction with the endpoint row locked (its failure counters). Disabling an
endpoint also e-mails the Administrators (``notify``)."""

from __future__ import annotations

import datetime as dt
import json
import logging
import random
from collections.abc import Callable, Iterable

from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from apps.core.services import audit_record

from . import transport
from .catalogue import TEST_EVENT
from .enums import OPEN_STATUSES, DeliveryStatus
from .models import Delivery, Endpoint
from .notify import endpoint_disabled_queue
from .selectors import subscriptions_changed
from .signing import DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER, signature_header

log = logging.getLogger(__name__)

MAX_ERROR = 500
MAX_SNIPPET = 1000


def body_bytes(delivery: Delivery) -> bytes:
    """The request body: the stored payload as compact JSON with sorted keys, so a replay sends
    the same bytes."""
    return json.dumps(
        delivery.payload, ensure_ascii=False, sort_keys=True, separators=(",", ":")
    ).encode()


def request_headers(*, delivery: Delivery, secret: str, body: bytes) -> dict[str, str]:
    return {
        SIGNATURE_HEADER: signature_header(secret=secret, body=body),
        EVENT_HEADER: delivery.event_name,
        DELIVERY_HEADER: str(delivery.pk),
    }


def backoff_delay(
    round_attempts: int, *, rand: Callable[[], float] = random.random
) -> dt.timedelta:
    """Wait after the ``round_attempts``-th failed attempt: base × 2^(n−1), capped, times a
    random factor in [0.5, 1.0) so that many deliveries failing together do not come back
    together ("equal jitter")."""
    base = settings.WEBHOOK_BACKOFF_BASE_SECONDS
    cap = settings.WEBHOOK_BACKOFF_MAX_SECONDS
    delay = min(cap, base * 2 ** max(round_attempts - 1, 0))
    return dt.timedelta(seconds=delay * (0.5 + rand() / 2))


def _claim(delivery_id) -> bool:
    now = timezone.now()
    lease = dt.timedelta(seconds=settings.WEBHOOK_TIMEOUT_SECONDS * 3 + 30)
    # Every condition on the delivery row itself (the endpoint's only through a subquery on its
    # own table, never a join): a second claim waiting on the row lock re-checks them against
    # the row the first claim wrote, and finds it no longer due.
    active = Endpoint.objects.filter(active=True).values("pk")
    claimed = (
        Delivery.objects.filter(pk=delivery_id, status__in=OPEN_STATUSES)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .filter(Q(endpoint_id__in=active) | Q(event_name=TEST_EVENT))
        .update(next_attempt_at=now + lease)
    )
    return claimed == 1


def delivery_attempt(*, delivery_id) -> Delivery | None:
    """Post a due delivery once and record the outcome; None when it was not due (delivered,
    given up, claimed by another worker, endpoint disabled). Safe to call any number of times.

    Success: the delivery is done and the endpoint's failure streak ends. Failure: the next
    attempt is scheduled with back-off, or after ``WEBHOOK_MAX_ATTEMPTS`` in this round the
    delivery is failed (an Administrator may replay it); the endpoint's streak grows, and at
    ``WEBHOOK_DISABLE_AFTER_FAILURES`` the endpoint is disabled. A test event is tried once and
    leaves the endpoint's counters alone."""
    if not _claim(delivery_id):
        return None
    delivery = Delivery.objects.select_related("endpoint").get(pk=delivery_id)
    body = body_bytes(delivery)
    outcome = transport.post(
        url=delivery.endpoint.url,
        body=body,
        headers=request_headers(delivery=delivery, secret=delivery.endpoint.secret, body=body),
    )
    return _record(delivery=delivery, outcome=outcome)


RECORDED_FIELDS = [
    "attempts",
    "round_attempts",
    "last_attempt_at",
    "response_code",
    "response_snippet",
    "duration_ms",
    "error",
    "status",
    "delivered_at",
    "next_attempt_at",
]


@transaction.atomic
def _record(*, delivery: Delivery, outcome: transport.Outcome) -> Delivery:
    now = timezone.now()
    endpoint = Endpoint.objects.select_for_update().get(pk=delivery.endpoint_id)
    is_test = delivery.event_name == TEST_EVENT
    delivery.attempts += 1
    delivery.round_attempts += 1
    delivery.last_attempt_at = now
    delivery.response_code = outcome.status
    delivery.response_snippet = outcome.snippet[:MAX_SNIPPET]
    delivery.duration_ms = outcome.duration_ms
    delivery.error = outcome.error[:MAX_ERROR]
    if outcome.ok:
        delivery.status = DeliveryStatus.SUCCEEDED
        delivery.delivered_at = now
        delivery.next_attempt_at = None
    elif is_test or delivery.round_attempts >= settings.WEBHOOK_MAX_ATTEMPTS:
        delivery.status = DeliveryStatus.FAILED
        delivery.next_attempt_at = None
    else:
        delivery.status = DeliveryStatus.RETRYING
        delivery.next_attempt_at = now + backoff_delay(delivery.round_attempts)
    delivery.save(update_fields=RECORDED_FIELDS)  # not the payload: it never changes
    if is_test:
        return delivery
    endpoint.last_status_code = outcome.status
    if outcome.ok:
        endpoint.consecutive_failures = 0
        endpoint.failing_since = None
        endpoint.last_success_at = now
    else:
        endpoint.consecutive_failures += 1  # the row is locked
        endpoint.failing_since = endpoint.failing_since or now
        endpoint.last_failure_at = now
    endpoint.save(
        update_fields=[
            "last_status_code",
            "consecutive_failures",
            "failing_since",
            "last_success_at",
            "last_failure_at",
            "updated_at",
        ]
    )
    if not outcome.ok and endpoint.consecutive_failures >= settings.WEBHOOK_DISABLE_AFTER_FAILURES:
        _disable(endpoint=endpoint, now=now)
    return delivery


def _disable(*, endpoint: Endpoint, now: dt.datetime) -> None:
    reason = (
        f"{endpoint.consecutive_failures} consecutive failed attempts; last: "
        f"{endpoint.last_status_code or 'no answer'}"
    )
    endpoint.active = False
    endpoint.disabled_at = now
    endpoint.disabled_reason = reason[:300]
    endpoint.save(update_fields=["active", "disabled_at", "disabled_reason", "updated_at"])
    subscriptions_changed()
    audit_record(
        actor=None,
        action="webhook.endpoint_disable",
        target=endpoint,
        summary=f"{endpoint.url}: {reason}",
        before={"active": True},
        after={"active": False, "reason": reason},
    )
    log.warning("webhook endpoint %s disabled: %s", endpoint.pk, reason)
    endpoint_disabled_queue(endpoint_id=endpoint.pk)


@shared_task(name="integrations.webhook_send", acks_late=True, reject_on_worker_lost=True)
def webhook_send(delivery_id: str) -> str | None:
    """One attempt at a delivery (queued on commit; the sweep re-queues what is due)."""
    delivery = delivery_attempt(delivery_id=delivery_id)
    return delivery.status if delivery is not None else None


def send_queue(delivery_ids: Iterable) -> None:
    """Queue an attempt for each delivery once the current transaction commits."""
    ids = [str(pk) for pk in delivery_ids]
    if ids:
        transaction.on_commit(lambda: [webhook_send.delay(pk) for pk in ids])
