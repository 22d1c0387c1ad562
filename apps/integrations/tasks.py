"""Celery jobs of the outbound webhooks. ``integrations.webhook_send`` (one attempt) lives in
``sending``; the sweep below runs every minute from the beat schedule (migration 0002)."""

from __future__ import annotations

import datetime as dt

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from .enums import DeliveryStatus
from .models import Delivery
from .selectors import deliveries_due
from .sending import webhook_send

SWEEP_BATCH = 500


def deliveries_purge(*, days: int) -> int:
    """Delete delivered deliveries older than ``days``; failed ones stay for a replay."""
    cutoff = timezone.now() - dt.timedelta(days=days)
    deleted, _ = Delivery.objects.filter(
        status=DeliveryStatus.SUCCEEDED, created_at__lt=cutoff
    ).delete()
    return deleted


@shared_task(name="integrations.webhook_retry_due", acks_late=True)
def webhook_retry_due() -> int:
    """Queue an attempt for every delivery whose next attempt is due (retries after back-off,
    and any whose task was lost), then purge old delivered ones. Returns the number queued."""
    due = deliveries_due(limit=SWEEP_BATCH)
    for delivery_id in due:
        webhook_send.delay(delivery_id)
    deliveries_purge(days=settings.WEBHOOK_KEEP_DAYS)
    return len(due)
