"""django-celery-beat's database schedule, written from data migrations.

Each app schedules its own periodic tasks in a migration with these helpers. Rows are matched by
name, so running a migration again (or after an operator changed a time in the admin and wants
the defaults back) updates instead of duplicating; a running DatabaseScheduler is told to reload.
Crontab times are local (``TIME_ZONE``)."""

import json
import zoneinfo

from django.conf import settings
from django.utils import timezone


def periodic_task_upsert(
    apps,
    *,
    name: str,
    task: str,
    description: str,
    minute: str = "0",
    hour: str = "*",
    day_of_week: str = "*",
    every_hours: int | None = None,
    every_minutes: int | None = None,
) -> None:
    """Schedule ``task`` at ``hour:minute`` local time on ``day_of_week`` (daily by default),
    or every ``every_hours`` hours, or every ``every_minutes`` minutes."""
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    schedule: dict = {"interval": None, "crontab": None, "solar": None, "clocked": None}
    if every_hours is not None or every_minutes is not None:
        IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
        schedule["interval"], _ = IntervalSchedule.objects.get_or_create(
            every=every_hours or every_minutes,
            period="hours" if every_hours is not None else "minutes",
        )
    else:
        CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
        schedule["crontab"], _ = CrontabSchedule.objects.get_or_create(
            minute=minute,
            hour=hour,
            day_of_week=day_of_week,
            day_of_month="*",
            month_of_year="*",
            timezone=zoneinfo.ZoneInfo(settings.TIME_ZONE),
        )
    PeriodicTask.objects.update_or_create(
        name=name,
        defaults={
            "task": task,
            **schedule,
            "kwargs": json.dumps({}),
            "enabled": True,
            "one_off": False,
            "description": description,
        },
    )
    _reload(apps)


def periodic_tasks_remove(apps, *, names: list[str]) -> None:
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name__in=names).delete()
    _reload(apps)


def _reload(apps) -> None:
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})
