"""Bulk jobs run on their own queue, so a large import or a nightly job never delays what a
person waits for (order follow-ups, e-mails to one person): every task the worker knows is
routed deliberately, to ``bulk`` by CELERY_TASK_ROUTES or to ``default`` by being listed in
DEFAULT_QUEUE_TASKS. A new task in neither list fails here until someone decides."""

import pytest
from django.conf import settings
from django_celery_beat.models import PeriodicTask

from config.celery import app as celery_app


def _registered() -> set[str]:
    celery_app.loader.import_default_modules()  # what a worker does at start: autodiscovery
    # (Tasks the test suite defines for itself, "tests.…", are not the application's.)
    return {n for n in celery_app.tasks if not n.startswith(("celery.", "tests."))}


def _queue(name: str) -> str:
    return celery_app.amqp.router.route({}, name)["queue"].name


def test_every_task_is_routed_deliberately():
    bulk, default = set(settings.BULK_QUEUE_TASKS), set(settings.DEFAULT_QUEUE_TASKS)
    assert not bulk & default
    undecided = _registered() - bulk - default
    assert not undecided, f"add these to BULK_QUEUE_TASKS or DEFAULT_QUEUE_TASKS: {undecided}"
    assert not (bulk | default) - _registered(), "listed tasks that no longer exist"


def test_bulk_jobs_go_to_the_bulk_queue_and_the_rest_to_default():
    assert settings.CELERY_TASK_DEFAULT_QUEUE == "default"
    for name in settings.BULK_QUEUE_TASKS:
        assert _queue(name) == "bulk", name
    for name in settings.DEFAULT_QUEUE_TASKS:
        assert _queue(name) == "default", name
    # The ones the issue names, by name, so an edit of the lists cannot move them unnoticed.
    assert {_queue("loyalty.points_expire"), _queue("campaigns.send")} == {"bulk"}
    assert {_queue("customers.import_job_run"), _queue("dashboard.export_job_run")} == {"bulk"}
    assert _queue("complaints.reply_email_send") == "default"


@pytest.mark.django_db
def test_no_periodic_task_overrides_its_route():
    # A queue set on a beat row would win over CELERY_TASK_ROUTES.
    assert list(PeriodicTask.objects.exclude(queue=None).exclude(queue="").values("name")) == []
