"""The nightly loyalty jobs in django-celery-beat's database schedule (local time).

Re-runnable: rows are matched by task name, so running it again (or after an operator changed the
time in the admin and wants the defaults back) updates instead of duplicating."""

import json
import zoneinfo

from django.conf import settings
from django.db import migrations
from django.utils import timezone

# (periodic task name, Celery task, minute, hour)
SCHEDULE = [
    ("loyalty: mature pending points", "loyalty.points_mature", "10", "2"),
    ("loyalty: expire points", "loyalty.points_expire", "20", "2"),
    ("loyalty: tier review", "loyalty.tiers_review", "40", "2"),
    ("loyalty: birthday bonuses", "loyalty.birthday_bonuses", "0", "3"),
    ("loyalty: badge anniversaries", "loyalty.badge_anniversaries", "5", "3"),
    ("loyalty: expiring-points reminders", "loyalty.points_expiring_remind", "0", "9"),
]


def schedule(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    tz = zoneinfo.ZoneInfo(settings.TIME_ZONE)
    for name, task, minute, hour in SCHEDULE:
        crontab, _ = CrontabSchedule.objects.get_or_create(
            minute=minute,
            hour=hour,
            day_of_week="*",
            day_of_month="*",
            month_of_year="*",
            timezone=tz,
        )
        PeriodicTask.objects.update_or_create(
            name=name,
            defaults={
                "task": task,
                "crontab": crontab,
                "interval": None,
                "solar": None,
                "clocked": None,
                "kwargs": json.dumps({}),
                "enabled": True,
                "one_off": False,
                "description": "Nightly loyalty job; see apps/loyalty/tasks.py.",
            },
        )
    # Tell a running DatabaseScheduler to reload.
    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def unschedule(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name__in=[row[0] for row in SCHEDULE]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("loyalty", "0002_ledger_guard_and_roles"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]
    operations = [migrations.RunPython(schedule, unschedule)]
