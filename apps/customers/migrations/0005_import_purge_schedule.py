"""The nightly purge of import data (uploaded files, previews and errors past their retention)
in django-celery-beat's database schedule (re-runnable, see ``apps.core.beat``)."""

from django.db import migrations

from apps.core.beat import periodic_task_upsert, periodic_tasks_remove

NAME = "customers: purge old import data"
TASK = "customers.import_jobs_purge"


def schedule(apps, schema_editor):
    periodic_task_upsert(
        apps,
        name=NAME,
        task=TASK,
        minute="30",
        hour="3",
        description="Import data retention; see apps/customers/imports.py.",
    )


def unschedule(apps, schema_editor):
    periodic_tasks_remove(apps, names=[NAME])


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0004_portal_inbox"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]
    operations = [migrations.RunPython(schedule, unschedule)]
