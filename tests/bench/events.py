"""Domain events through the outbox (``apps.core.events``), against the bare SQL they cost.

- ``publish`` of N events with one after-commit subscriber, in one transaction (what a service
  pays: payload check, the outbox row), vs a bare ``INSERT`` of the same N rows into the outbox
  table through one ``executemany``;
- delivery of those N events (``outbox_event_deliver``: a row lock, the subscriber, the ``done``
  mark, the delivered mark, each subscriber in its own transaction), vs a bare ``UPDATE`` per
  event of the same columns.

The subscriber does nothing, so the rows measure the mechanism alone.
"""

from __future__ import annotations

import json
import uuid

from django.db import connection, transaction
from django.utils import timezone

from apps.core import events
from apps.core.models import OutboxEvent

from .measure import once, result_row


def _noop(event: events.Event) -> None:
    return None


def _bare_insert(n: int) -> None:
    now = timezone.now()
    rows = [
        (str(uuid.uuid4()), "refund.recorded", json.dumps({"refund_id": i, "order_id": i}), now)
        for i in range(n)
    ]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO core_outboxevent (id, name, payload, created_at, done, attempts, "
            "last_error) VALUES (%s, %s, %s, %s, '[]', 0, '')",
            rows,
        )


def _bare_deliver(ids: list[str]) -> None:
    for event_id in ids:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT id FROM core_outboxevent WHERE id = %s FOR UPDATE", [event_id])
            cursor.execute(
                "UPDATE core_outboxevent SET done = %s, delivered_at = now() WHERE id = %s",
                [json.dumps(["bench"]), event_id],
            )


def measure_events(*, scale: float) -> list[dict]:
    n = max(1000, round(20_000 * scale))
    OutboxEvent.objects.all().delete()
    reference, _ = once(lambda: _bare_insert(n))
    bare_ids = [str(pk) for pk in OutboxEvent.objects.values_list("pk", flat=True)]
    deliver_reference, _ = once(lambda: _bare_deliver(bare_ids))
    OutboxEvent.objects.all().delete()

    published: list[str] = []

    def publish_all() -> None:
        with transaction.atomic():
            for i in range(n):
                published.append(events.publish("refund.recorded", refund_id=i, order_id=i).id)
            # The delivery tasks would be queued on commit; measured separately below.
            transaction.get_connection().run_on_commit.clear()

    with events.late_wiring():
        events.subscribe("refund.recorded", _noop, when="after_commit")
        value, _ = once(publish_all)
        deliver, _ = once(
            lambda: [events.outbox_event_deliver(event_id=event_id) for event_id in published]
        )
    delivered = OutboxEvent.objects.filter(delivered_at__isnull=False).count()
    OutboxEvent.objects.all().delete()
    return [
        result_row(
            f"events.publish with an after-commit subscriber, {n:,} events",
            value=value,
            unit="s",
            reference=reference,
            reference_label="bare INSERT of the outbox rows (executemany)",
            events_per_second=round(n / value),
        ),
        result_row(
            f"outbox delivery, {n:,} events",
            value=deliver,
            unit="s",
            reference=deliver_reference,
            reference_label="bare SELECT FOR UPDATE + UPDATE per event",
            events_per_second=round(n / deliver),
            delivered=delivered,
        ),
    ]
