"""The complaint jobs in django-celery-beat's database schedule: the SLA sweep every two
minutes (breaches and escalations are minutes-sensitive), auto-close hourly. Re-runnable."""

from django.db import migrations

from apps.core.beat import periodic_task_upsert, periodic_tasks_remove

SLA_SWEEP = "complaints: SLA sweep"
AUTO_CLOSE = "complaints: close resolved tickets"


def schedule(apps, schema_editor):
    periodic_task_upsert(
        apps,
        name=SLA_SWEEP,
        task="complaints.sla_sweep",
        every_minutes=2,
        description="Records SLA breaches and fires escalations; see apps/complaints/tasks.py.",
    )
    periodic_task_upsert(
        apps,
        name=AUTO_CLOSE,
        task="complaints.auto_close",
        minute="15",
        every_hours=1,
        description="Closes tickets resolved longer ago than the settings say.",
    )


def unschedule(apps, schema_editor):
    periodic_tasks_remove(apps, names=[SLA_SWEEP, AUTO_CLOSE])


class Migration(migrations.Migration):
    dependencies = [
        ("complaints", "0002_roles"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]
    operations = [migrations.RunPython(schedule, unschedule)]
