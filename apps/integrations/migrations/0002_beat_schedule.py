"""The webhook retry sweep in django-celery-beat's database schedule: every minute, queue the
deliveries whose next attempt is due. Re-runnable."""

from django.db import migrations

from apps.core.beat import periodic_task_upsert, periodic_tasks_remove

RETRY_DUE = "integrations: webhook retries due"


def schedule(apps, schema_editor):
    periodic_task_upsert(
        apps,
        name=RETRY_DUE,
        task="integrations.webhook_retry_due",
        every_minutes=1,
        description="Outbound webhook deliveries whose next attempt is due; see docs/integrations.md.",
    )


def unschedule(apps, schema_editor):
    periodic_tasks_remove(apps, names=[RETRY_DUE])


class Migration(migrations.Migration):
    dependencies = [
        ("integrations", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]
    operations = [migrations.RunPython(schedule, unschedule)]
