"""Survey jobs for Celery beat (scheduled by migration 0003_beat_schedule, local time).

Thin: they take ISO dates, call a service and return a JSON-able summary. The services are
idempotent through unique keys (one invitation per survey and order, per survey, customer and
context) and the e-mail row lock, so a retried or duplicated delivery does nothing twice. The
daily job also takes a cache lock (``apps.core.jobs.job_lock``) so two runs never overlap; a run
that finds it taken skips and returns ``None``.
"""

import logging

from celery import shared_task
from django.db import OperationalError

from apps.core.jobs import job_lock, moment_parse

from .services import invitations, sweeps

log = logging.getLogger(__name__)

JOB = {
    "acks_late": True,
    "reject_on_worker_lost": True,
    "autoretry_for": (OperationalError,),
    "retry_backoff": True,
}


def _locked(name: str, run):
    with job_lock(f"surveys:{name}") as acquired:
        if not acquired:
            log.info("surveys job %s is already running; skipped", name)
            return None
        return run()


@shared_task(name="surveys.invitations_after_purchase", **JOB)
def invitations_after_purchase(as_of: str | None = None) -> dict | None:
    """Invite members after their purchases, for every live after-purchase survey. ``as_of``:
    an ISO datetime, or a date meaning the start of that local day; default now. Returns, per
    survey code, how many were sent, skipped (by reason) and found invited before."""

    def run() -> dict:
        out = invitations.invitations_after_purchase(as_of=moment_parse(as_of))
        return {
            slug: {
                "sent": len(result.sent),
                "skipped": dict(result.skipped),
                "existing": result.existing,
            }
            for slug, result in out.items()
        }

    return _locked("after-purchase", run)


@shared_task(name="surveys.invitation_emails_sweep", **JOB)
def invitation_emails_sweep(now: str | None = None) -> dict[str, int]:
    """Send invitation e-mails still queued a while after they were written (their outbox
    delivery was lost). No lock needed: each e-mail is sent under its row lock, once."""
    return sweeps.invitation_emails_sweep(now=moment_parse(now))
