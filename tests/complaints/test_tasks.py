"""The complaint jobs: the SLA sweep and auto-close through their Celery tasks, and the
orphaned-file purge that keeps files a rolled-back transaction left behind from piling up."""

import datetime as dt
import os

import pytest
from django.core.files.base import ContentFile
from django_celery_beat.models import PeriodicTask

from apps.complaints import tasks
from apps.complaints.models import Attachment
from apps.core.private_files import private_storage

from .conftest import at

pytestmark = pytest.mark.django_db


def test_the_jobs_are_scheduled():
    names = set(PeriodicTask.objects.values_list("task", flat=True))
    assert {
        "complaints.sla_sweep",
        "complaints.auto_close",
        "complaints.attachments_purge",
    } <= names


def test_the_sweep_task_records_breaches(open_ticket):
    ticket = open_ticket("2026-09-28 09:00")
    assert tasks.sla_sweep(now=at("2026-09-28 11:00").isoformat())["first_response"] == 1
    ticket.refresh_from_db()
    assert ticket.first_response_breached_at is not None


def test_orphaned_files_go_and_named_ones_stay(open_ticket, settings, tmp_path):
    settings.PRIVATE_MEDIA_ROOT = tmp_path
    storage = private_storage()
    ticket = open_ticket()
    kept = storage.save("complaints/2026/09/kept.pdf", ContentFile(b"%PDF-1.4"))
    Attachment.objects.create(
        ticket=ticket,
        file=kept,
        name="a.pdf",
        content_type="application/pdf",
        size=8,
        sha256="0" * 64,
        at=ticket.created_at,
    )
    orphan = storage.save("complaints/2026/09/orphan.pdf", ContentFile(b"%PDF-1.4"))
    fresh = storage.save("complaints/2026/09/fresh.pdf", ContentFile(b"%PDF-1.4"))
    old = (dt.datetime.now() - dt.timedelta(days=1)).timestamp()
    for name in (kept, orphan):
        os.utime(storage.path(name), (old, old))
    assert tasks.attachments_purge() == 1
    assert storage.exists(kept) and storage.exists(fresh) and not storage.exists(orphan)
