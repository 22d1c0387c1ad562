"""The nightly KPI snapshot in django-celery-beat's database schedule: 03:15 in the business time
zone, after the night's expiry, tier review and metrics (it reads their results). Re-runnable."""

from django.db import migrations

from apps.core.beat import periodic_task_upsert, periodic_tasks_remove

NAME = "analytics: daily KPI snapshot"


def schedule(apps, schema_editor):
    periodic_task_upsert(
        apps,
        name=NAME,
        task="analytics.kpi_snapshot",
        hour="3",
        minute="15",
        description="Yesterday's KPIs for the programme, each store and each tier.",
    )


def unschedule(apps, schema_editor):
    periodic_tasks_remove(apps, names=[NAME])


class Migration(migrations.Migration):
    dependencies = [
        ("analytics", "0004_kpi_snapshot"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]
    operations = [migrations.RunPython(schedule, unschedule)]
