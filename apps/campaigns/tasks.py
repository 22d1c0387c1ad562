"""Campaign jobs for Celery (beat schedule in the migration ``0002_beat_schedule``): the tick
every minute, the daily date-based journeys, and the per-campaign send. All take ids, are safe
to run twice or at once (claims, skip-locked rows and unique keys decide, not the task), ack
late and are rejected back to the queue when a worker dies mid-task."""

import logging

from celery import shared_task
from django.db import OperationalError, transaction
from django.utils.dateparse import parse_date

from apps.core.events import Event

from .services.journeys import journeys_daily, journeys_on_event
from .services.sending import campaign_send, campaigns_due

log = logging.getLogger(__name__)

JOB = {
    "acks_late": True,
    "reject_on_worker_lost": True,
    "autoretry_for": (OperationalError,),
    "retry_backoff": True,
}


@shared_task(name="campaigns.send", **JOB)
def campaign_send_task(campaign_id: int) -> dict:
    """One time slice of a campaign's send; queues the next slice when work is left."""
    done = campaign_send(campaign_id=campaign_id)
    if done.more:
        campaign_send_task.apply_async((campaign_id,), countdown=1)
    return {"placed": done.placed, "sent": done.sent, "more": done.more}


def send_soon(campaign_id: int) -> None:
    """Queue a send slice after the current transaction commits."""
    transaction.on_commit(lambda: campaign_send_task.delay(campaign_id))


@shared_task(name="campaigns.tick", **JOB)
def campaigns_tick() -> list[int]:
    due = campaigns_due()
    for campaign_id in due:
        campaign_send_task.delay(campaign_id)
    return due


@shared_task(name="campaigns.journeys_daily", **JOB)
def campaigns_journeys_daily(day: str | None = None) -> dict:
    queued = journeys_daily(day=parse_date(day) if day else None)
    for campaign_id, n in queued.items():
        if n:
            campaign_send_task.delay(campaign_id)
    return {str(k): v for k, v in queued.items()}


def on_journey_event(event: Event) -> None:
    """Domain events that start journeys (after commit, from the outbox; idempotent by step)."""
    for campaign_id in journeys_on_event(event):
        send_soon(campaign_id)
