"""The outbox sweep every two minutes: events whose delivery task was lost or failed are queued
again, and delivered events older than 30 days are purged (``apps.core.events``)."""

from django.db import migrations

from apps.core.beat import periodic_task_upsert, periodic_tasks_remove

NAME = "core: deliver pending domain events"


def schedule(apps, schema_editor):
    periodic_task_upsert(
        apps,
        name=NAME,
        task="core.outbox_sweep",
        every_minutes=2,
        description="Queues outbox events not yet delivered; purges old delivered ones.",
    )


def unschedule(apps, schema_editor):
    periodic_tasks_remove(apps, names=[NAME])


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0003_outbox_event"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]
    operations = [migrations.RunPython(schedule, unschedule)]
