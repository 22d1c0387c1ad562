"""The nightly loyalty jobs in django-celery-beat's database schedule (local time).

Re-runnable: rows are matched by task name, so running it again (or after an operator changed the
time in the admin and wants the defaults back) updates instead of duplicating."""

from django.db import migrations

from apps.core.beat import periodic_task_upsert, periodic_tasks_remove

# (periodic task name, Celery task, minute, hour)
SCHEDULE = [
    ("loyalty: mature pending points", "loyalty.points_mature", "10", "2"),
    ("loyalty: expire points", "loyalty.points_expire", "20", "2"),
    ("loyalty: tier review", "loyalty.tiers_review", "40", "2"),
    ("loyalty: birthday bonuses", "loyalty.birthday_bonuses", "0", "3"),
    ("loyalty: badge anniversaries", "loyalty.badge_anniversaries", "5", "3"),
    ("loyalty: expiring-points reminders", "loyalty.points_expiring_remind", "0", "9"),
]


def schedule(apps, schema_editor):
    for name, task, minute, hour in SCHEDULE:
        periodic_task_upsert(
            apps,
            name=name,
            task=task,
            minute=minute,
            hour=hour,
            description="Nightly loyalty job; see apps/loyalty/tasks.py.",
        )


def unschedule(apps, schema_editor):
    periodic_tasks_remove(apps, names=[row[0] for row in SCHEDULE])


class Migration(migrations.Migration):
    dependencies = [
        ("loyalty", "0002_ledger_guard_and_roles"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]
    operations = [migrations.RunPython(schedule, unschedule)]
