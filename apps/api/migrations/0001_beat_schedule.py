"""The hourly purge of expired Idempotency-Key rows in django-celery-beat's database schedule.

The api app has no models; this migration only schedules its housekeeping task. Re-runnable:
the row is matched by its name, so running it again updates instead of duplicating."""

import json

from django.db import migrations
from django.utils import timezone

NAME = "api: purge expired idempotency keys"
TASK = "apps.api.tasks.idempotency_keys_purge_expired"


def schedule(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    hourly, _ = IntervalSchedule.objects.get_or_create(every=1, period="hours")
    PeriodicTask.objects.update_or_create(
        name=NAME,
        defaults={
            "task": TASK,
            "interval": hourly,
            "crontab": None,
            "solar": None,
            "clocked": None,
            "kwargs": json.dumps({}),
            "enabled": True,
            "one_off": False,
            "description": "Deletes Idempotency-Key rows older than IDEMPOTENCY_KEY_TTL_HOURS.",
        },
    )
    # Tell a running DatabaseScheduler to reload.
    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def unschedule(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [("django_celery_beat", "0019_alter_periodictasks_options")]
    operations = [migrations.RunPython(schedule, unschedule)]
