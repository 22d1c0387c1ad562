"""Nightly: delete attachment files no row names (a transaction that rolled back after writing
its files leaves them behind). Re-runnable."""

from django.db import migrations

from apps.core.beat import periodic_task_upsert, periodic_tasks_remove

PURGE = "complaints: orphaned attachment files"


def schedule(apps, schema_editor):
    periodic_task_upsert(
        apps,
        name=PURGE,
        task="complaints.attachments_purge",
        minute="40",
        hour="3",
        description="Deletes attachment files no ticket names; see apps/complaints/tasks.py.",
    )


def unschedule(apps, schema_editor):
    periodic_tasks_remove(apps, names=[PURGE])


class Migration(migrations.Migration):
    dependencies = [("complaints", "0003_beat_schedule")]
    operations = [migrations.RunPython(schedule, unschedule)]
