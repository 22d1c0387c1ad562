"""Every periodic task the migrations schedule names a task the Celery app knows, at a
schedule of its own kind (crontab or interval, never both)."""

import pytest
from django_celery_beat.models import PeriodicTask

from config.celery import app as celery_app

pytestmark = pytest.mark.django_db


def test_every_scheduled_task_is_registered_and_has_one_schedule():
    celery_app.loader.import_default_modules()  # what a worker does at start: autodiscovery
    rows = list(PeriodicTask.objects.select_related("crontab", "interval"))
    assert {r.name for r in rows} >= {
        "api: purge expired idempotency keys",
        "customers: purge old import data",
        "loyalty: expire points",
        "core: deliver pending domain events",
    }
    for row in rows:
        assert row.task in celery_app.tasks, row.task
        assert (row.crontab is None) != (row.interval is None), row.name
    purge = next(r for r in rows if r.name == "customers: purge old import data")
    assert (purge.crontab.hour, purge.crontab.minute) == ("3", "30")
    keys = next(r for r in rows if r.name == "api: purge expired idempotency keys")
    assert (keys.interval.every, keys.interval.period) == (1, "hours")
    sweep = next(r for r in rows if r.name == "core: deliver pending domain events")
    assert (sweep.interval.every, sweep.interval.period) == (2, "minutes")
