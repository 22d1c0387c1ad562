"""Customer-value jobs for Celery beat (scheduled by the migrations ``0002_beat_schedule`` and
``0005_kpi_snapshot_schedule``, ``0009_report_schedule``): the nightly metrics recompute, the
nightly KPI snapshot, the Monday at-risk list and the scheduled report e-mails. Safe to run twice:
the recompute upserts, a snapshot is taken once per day and scope, the list adds only newcomers,
a report period is claimed once; cache locks keep two runs from overlapping."""

import datetime as dt
import logging

from celery import shared_task
from django.db import OperationalError
from django.utils import timezone
from django.utils.dateparse import parse_date

from apps.core.jobs import job_lock

from .enums import ReportKind
from .exceptions import NotEnoughHistory
from .services.at_risk import at_risk_build, week_of
from .services.kpi import kpi_snapshot_take
from .services.metrics import metrics_recompute
from .services.reports import report_send_due

log = logging.getLogger(__name__)

JOB = {
    "acks_late": True,
    "reject_on_worker_lost": True,
    "autoretry_for": (OperationalError,),
    "retry_backoff": True,
}


@shared_task(name="analytics.recompute_metrics", **JOB)
def recompute_metrics(as_of: str | None = None) -> dict | None:
    with job_lock("analytics:recompute", timeout=3600) as acquired:
        if not acquired:
            log.info("metrics recompute is already running; skipped")
            return None
        try:
            done = metrics_recompute(as_of=parse_date(as_of) if as_of else None)
        except NotEnoughHistory:
            log.info("metrics recompute skipped: not enough customers with orders")
            return None
        return {"as_of": done.as_of.isoformat(), "customers": done.customers}


@shared_task(name="analytics.at_risk_weekly", **JOB)
def at_risk_weekly(day: str | None = None) -> dict:
    week = week_of(parse_date(day) if day else timezone.localdate())
    count = at_risk_build(week=week)
    # The e-mail goes through the at-risk report subscriptions (the default one: Managers,
    # Mondays 08:00); a subscription set for a later day is sent by ``reports_send_due``.
    done = report_send_due(reports=[ReportKind.AT_RISK])
    return {"week": week.isoformat(), "customers": count, "emails": done["emails"]}


@shared_task(name="analytics.kpi_snapshot", **JOB)
def kpi_snapshot(day: str | None = None) -> dict | None:
    """Yesterday's KPI snapshots (or ``day``'s); a second run finds them taken."""
    day_ = parse_date(day) if day else timezone.localdate() - dt.timedelta(days=1)
    with job_lock("analytics:kpi-snapshot", timeout=3600) as acquired:
        if not acquired:
            log.info("KPI snapshot is already running; skipped")
            return None
        run = kpi_snapshot_take(day=day_)
    return {"day": day_.isoformat(), "written": run.written, "skipped": run.skipped}


@shared_task(name="analytics.reports_send_due", **JOB)
def reports_send_due() -> dict | None:
    """Every scheduled report whose time has come (every 15 minutes); each period once."""
    with job_lock("analytics:reports", timeout=3600) as acquired:
        if not acquired:
            log.info("scheduled reports are already being sent; skipped")
            return None
        return report_send_due()
