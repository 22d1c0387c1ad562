"""The campaign jobs in django-celery-beat's database schedule: the tick every minute (scheduled
broadcasts, due and deferred messages, dead claims), the date-based journeys daily at 08:00 in
the business time zone (birthdays, anniversaries, win-back; e-mail and SMS then wait out any
quiet hours). Re-runnable."""

from django.db import migrations

from apps.core.beat import periodic_task_upsert, periodic_tasks_remove

TICK = "campaigns: send due messages"
DAILY = "campaigns: date-based journeys"


def schedule(apps, schema_editor):
    periodic_task_upsert(
        apps,
        name=TICK,
        task="campaigns.tick",
        every_minutes=1,
        description="Starts scheduled broadcasts, sends due and deferred messages; see apps/campaigns.",
    )
    periodic_task_upsert(
        apps,
        name=DAILY,
        task="campaigns.journeys_daily",
        hour="8",
        minute="0",
        description="Birthday, anniversary and win-back journeys for the day.",
    )


def unschedule(apps, schema_editor):
    periodic_tasks_remove(apps, names=[TICK, DAILY])


class Migration(migrations.Migration):
    dependencies = [
        ("campaigns", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]
    operations = [migrations.RunPython(schedule, unschedule)]
