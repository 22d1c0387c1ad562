"""The hourly purge of expired Idempotency-Key rows in django-celery-beat's database schedule.

The api app has no models; this migration only schedules its housekeeping task (re-runnable,
see ``apps.core.beat``)."""

from django.db import migrations

from apps.core.beat import periodic_task_upsert, periodic_tasks_remove

NAME = "api: purge expired idempotency keys"
TASK = "apps.api.tasks.idempotency_keys_purge_expired"


def schedule(apps, schema_editor):
    periodic_task_upsert(
        apps,
        name=NAME,
        task=TASK,
        every_hours=1,
        description="Deletes Idempotency-Key rows older than IDEMPOTENCY_KEY_TTL_HOURS.",
    )


def unschedule(apps, schema_editor):
    periodic_tasks_remove(apps, names=[NAME])


class Migration(migrations.Migration):
    dependencies = [("django_celery_beat", "0019_alter_periodictasks_options")]
    operations = [migrations.RunPython(schedule, unschedule)]
