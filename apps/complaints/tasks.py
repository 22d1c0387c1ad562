"""Complaint jobs for Celery beat (scheduled by the migration ``0003_beat_schedule``).

Thin and safe to run twice: the breach UPDATE only touches unrecorded breaches, escalations are
taken under row locks (skipping those another run holds), and auto-close is a conditional
UPDATE. The sweep also takes a cache lock so two runs never overlap."""

import logging

from celery import shared_task
from django.db import OperationalError

from apps.core.jobs import job_lock, moment_parse

from .services import attachments, lifecycle, sweeps

log = logging.getLogger(__name__)

JOB = {
    "acks_late": True,
    "reject_on_worker_lost": True,
    "autoretry_for": (OperationalError,),
    "retry_backoff": True,
}


@shared_task(name="complaints.sla_sweep", **JOB)
def sla_sweep(now: str | None = None) -> dict | None:
    """Breaches and escalations due now (``now``: ISO datetime, default the current time)."""
    with job_lock("complaints:sla-sweep") as acquired:
        if not acquired:
            log.info("complaints SLA sweep is already running; skipped")
            return None
        return sweeps.sla_sweep(now=moment_parse(now))


@shared_task(name="complaints.auto_close", **JOB)
def auto_close(now: str | None = None) -> int:
    return lifecycle.tickets_auto_close(now=moment_parse(now))


@shared_task(name="complaints.attachments_purge", **JOB)
def attachments_purge() -> int:
    """Delete attachment files that no row names (left by rolled-back transactions)."""
    return attachments.attachments_orphans_purge()
