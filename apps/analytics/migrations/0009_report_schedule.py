"""Scheduled reports in django-celery-beat's database schedule (every 15 minutes: each
subscription's time is in the business time zone and a period is sent once), and the weekly
at-risk e-mail to Managers as the first subscription: Mondays at 08:00, as it was sent before.

The period current when this runs is marked as sent, so nobody gets this week's list a second
time on the day of the upgrade. Re-runnable: the default subscription is made once."""

from django.db import migrations
from django.utils import timezone

from apps.accounts.roles import MANAGER
from apps.analytics.report_periods import period_current
from apps.core.beat import periodic_task_upsert, periodic_tasks_remove

NAME = "analytics: scheduled report e-mails"
DEFAULT = {"report": "at_risk", "frequency": "weekly", "weekday": 0, "hour": 8}


def schedule(apps, schema_editor):
    periodic_task_upsert(
        apps,
        name=NAME,
        task="analytics.reports_send_due",
        every_minutes=15,
        description="Report subscriptions whose time has come (apps/analytics/services/reports).",
    )
    Group = apps.get_model("auth", "Group")
    ReportSubscription = apps.get_model("analytics", "ReportSubscription")
    managers, _created = Group.objects.get_or_create(name=MANAGER)
    if ReportSubscription.objects.filter(**DEFAULT, role=managers).exists():
        return
    period = period_current(
        frequency="weekly", weekday=0, day_of_month=None, hour=8, now=timezone.now()
    )
    ReportSubscription.objects.create(
        **DEFAULT, role=managers, last_sent_period=period.key, active=True
    )


def unschedule(apps, schema_editor):
    periodic_tasks_remove(apps, names=[NAME])


class Migration(migrations.Migration):
    dependencies = [
        ("analytics", "0008_report_roles"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]
    operations = [migrations.RunPython(schedule, unschedule)]
