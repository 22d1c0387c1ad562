"""Loyalty jobs for Celery beat (scheduled by migrations 0003_beat_schedule and
0006_ledger_verification, local time).

Thin: they take ids or ISO dates, call a service and return its count. Every service is
idempotent through unique ledger keys or ``reminded_at`` marks, so a retried or duplicated
delivery does nothing twice. Nightly jobs also take a cache lock (``cache.add`` is atomic on
Redis and on the database cache) so two runs never overlap; a run that finds the lock taken
skips and returns ``None``. The lock times out, so a crashed worker cannot block tomorrow's run.
"""

import datetime as dt
import logging

from celery import shared_task
from django.conf import settings
from django.db import OperationalError
from django.utils import timezone
from django.utils.dateparse import parse_date

from apps.core.jobs import LOCK_TIMEOUT, moment_parse
from apps.core.jobs import job_lock as core_job_lock

from . import services
from .services import ledger_checks, reminders

log = logging.getLogger(__name__)


def job_lock(name: str, timeout: int = LOCK_TIMEOUT):
    """True when this run holds the lock for ``name``; False when another run holds it
    (``apps.core.jobs.job_lock`` under ``loyalty:<name>``)."""
    return core_job_lock(f"loyalty:{name}", timeout)


_moment = moment_parse


def _day(value: str | None) -> dt.date:
    if not value:
        return timezone.localdate()
    day = parse_date(value)
    if day is None:
        raise ValueError(f"not an ISO date: {value!r}")
    return day


def _locked(name: str, run):
    with job_lock(name) as acquired:
        if not acquired:
            log.info("loyalty job %s is already running; skipped", name)
            return None
        return run()


JOB = {"acks_late": True, "autoretry_for": (OperationalError,), "retry_backoff": True}


@shared_task(name="loyalty.points_mature", **JOB)
def points_mature(as_of: str | None = None) -> int | None:
    """Pending points whose return window has passed become spendable."""
    return _locked(
        "mature",
        lambda: services.points_mature_due(as_of=_moment(as_of), chunk=settings.LOYALTY_JOB_CHUNK),
    )


@shared_task(name="loyalty.points_expire", **JOB)
def points_expire(as_of: str | None = None) -> int | None:
    """Lots past their expiry lose what remains."""
    return _locked(
        "expire",
        lambda: services.points_expire_due(as_of=_moment(as_of), chunk=settings.LOYALTY_JOB_CHUNK),
    )


@shared_task(name="loyalty.tiers_review", **JOB)
def tiers_review(as_of: str | None = None) -> int | None:
    """Downgrade reviews due (review date + grace period passed)."""
    return _locked("tiers", lambda: services.tier_review_due(as_of=_day(as_of)))


@shared_task(name="loyalty.birthday_bonuses", **JOB)
def birthday_bonuses(today: str | None = None) -> int | None:
    return _locked("birthdays", lambda: services.birthday_bonuses_award(today=_day(today)))


@shared_task(name="loyalty.badge_anniversaries", **JOB)
def badge_anniversaries(today: str | None = None) -> int | None:
    return _locked("anniversaries", lambda: services.badges_anniversary_award(today=_day(today)))


@shared_task(name="loyalty.points_expiring_remind", **JOB)
def points_expiring_remind(as_of: str | None = None) -> int | None:
    """Members with points entering the reminder window; each lot once."""
    return _locked("reminders", lambda: reminders.points_expiring_remind(as_of=_moment(as_of)))


@shared_task(name="loyalty.ledger_verify", **JOB)
def ledger_verify() -> int | None:
    """Verify the whole ledger, record the run, e-mail the signed digest to the Managers.
    Returns the run's id."""
    return _locked("ledger-verify", lambda: ledger_checks.ledger_verification_run().pk)
