"""The nightly purge of background-export files whose download links have expired
(``apps.core.export_jobs``)."""

from django.db import migrations

from apps.core.beat import periodic_task_upsert, periodic_tasks_remove

NAME = "core: delete expired export files"


def schedule(apps, schema_editor):
    periodic_task_upsert(
        apps,
        name=NAME,
        task="core.export_files_purge",
        minute="40",
        hour="3",
        description="Deletes the files of background exports whose download links have expired.",
    )


def unschedule(apps, schema_editor):
    periodic_tasks_remove(apps, names=[NAME])


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0007_export_job"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]
    operations = [migrations.RunPython(schedule, unschedule)]
