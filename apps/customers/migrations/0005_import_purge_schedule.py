"""The nightly purge of import data (uploaded files, previews and errors past their retention)
in django-celery-beat's database schedule. Re-runnable: the row is matched by its name."""

import json
import zoneinfo

from django.conf import settings
from django.db import migrations
from django.utils import timezone

NAME = "customers: purge old import data"
TASK = "customers.import_jobs_purge"


def schedule(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    crontab, _ = CrontabSchedule.objects.get_or_create(
        minute="30",
        hour="3",
        day_of_week="*",
        day_of_month="*",
        month_of_year="*",
        timezone=zoneinfo.ZoneInfo(settings.TIME_ZONE),
    )
    PeriodicTask.objects.update_or_create(
        name=NAME,
        defaults={
            "task": TASK,
            "crontab": crontab,
            "interval": None,
            "solar": None,
            "clocked": None,
            "kwargs": json.dumps({}),
            "enabled": True,
            "one_off": False,
            "description": "Import data retention; see apps/customers/imports.py.",
        },
    )
    # Tell a running DatabaseScheduler to reload.
    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def unschedule(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0004_portal_inbox"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]
    operations = [migrations.RunPython(schedule, unschedule)]
