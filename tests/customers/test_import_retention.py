"""Import data does not outlive its use: the uploaded file goes when the job finishes, previews
and errors after IMPORT_RETENTION_DAYS, and a job never started is closed then."""

import datetime as dt
from unittest import mock

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from apps.core.private_files import private_storage
from apps.customers.importing.jobs import import_job_create
from apps.customers.importing.retention import IMPORT_RETENTION_DAYS, import_jobs_purge
from apps.customers.importing.runner import import_job_run
from apps.customers.models import Customer, ImportJob
from apps.customers.tasks import import_jobs_purge_task

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("store")]

GOOD = b"first_name,last_name,email,phone\nLin,Wu,lin.wu@example.org,+8613900000031\n"
BAD = b"first_name,last_name,email,phone\nLin,Wu,not-an-email,\n"


def _queued(content: bytes, manager) -> ImportJob:
    job = import_job_create(
        kind="customers", upload=SimpleUploadedFile("people.csv", content), actor=manager
    )
    ImportJob.objects.filter(pk=job.pk).update(queued_at=timezone.now())
    return job


def test_the_uploaded_file_is_deleted_when_the_job_is_done(manager, private_media):
    job = _queued(GOOD, manager)
    stored = private_media / job.stored_path
    assert stored.exists()
    job = import_job_run(job_id=str(job.pk))
    assert (job.status, job.stored_path, stored.exists()) == ("done", "", False)
    assert Customer.objects.filter(email="lin.wu@example.org").count() == 1


def test_the_uploaded_file_is_deleted_when_the_job_fails(manager, private_media):
    job = _queued(GOOD, manager)
    stored = private_media / job.stored_path
    # The file changed between preview and run: the run finds an error and writes nothing.
    stored.write_bytes(BAD)
    job = import_job_run(job_id=str(job.pk))
    assert (job.status, job.error_count, stored.exists()) == ("failed", 1, False)
    assert not Customer.objects.exists()


def test_the_uploaded_file_is_deleted_when_the_job_crashes(manager, private_media):
    job = _queued(GOOD, manager)
    stored = private_media / job.stored_path
    with (
        mock.patch.dict(
            "apps.customers.importing.runner.IMPORTERS",
            {"customers": mock.Mock(side_effect=KeyError)},
        ),
        pytest.raises(KeyError),
    ):
        import_job_run(job_id=str(job.pk))
    job.refresh_from_db()
    assert (job.status, job.stored_path, stored.exists()) == ("failed", "", False)


def test_purge_clears_old_previews_and_closes_jobs_never_started(manager, private_media):
    now = timezone.now()
    old = now - dt.timedelta(days=IMPORT_RETENTION_DAYS + 1)
    recent = now - dt.timedelta(days=IMPORT_RETENTION_DAYS - 1)
    row = {"row": "2", "email": "lin.wu@example.org"}
    finished_old = ImportJob.objects.create(
        kind="customers",
        file_name="a.csv",
        stored_path="",
        status="done",
        finished_at=old,
        preview=[row],
        errors=["row 3, column email: is not a valid e-mail address"],
        summary={"created": 1},
    )
    finished_recent = ImportJob.objects.create(
        kind="customers",
        file_name="b.csv",
        stored_path="",
        status="failed",
        finished_at=recent,
        preview=[row],
        errors=["e"],
    )
    never_started = import_job_create(
        kind="customers", upload=SimpleUploadedFile("c.csv", GOOD), actor=manager
    )
    ImportJob.objects.filter(pk=never_started.pk).update(created_at=old)
    # A finished job from before files were deleted.
    left_behind = private_storage().save("imports/left.csv", ContentFile(GOOD))
    finished_with_file = ImportJob.objects.create(
        kind="customers",
        file_name="d.csv",
        stored_path=left_behind,
        status="done",
        finished_at=recent,
    )

    assert import_jobs_purge(now=now) == 3

    finished_old.refresh_from_db()
    assert (finished_old.preview, finished_old.errors, finished_old.summary) == (
        [],
        [],
        {"created": 1},
    )
    finished_recent.refresh_from_db()
    assert (finished_recent.preview, finished_recent.errors) == ([row], ["e"])
    never_started.refresh_from_db()
    assert (never_started.status, never_started.preview, never_started.stored_path) == (
        "failed",
        [],
        "",
    )
    assert list((private_media / "imports").glob("*")) == []  # both files are gone
    finished_with_file.refresh_from_db()
    assert finished_with_file.stored_path == ""
    assert import_jobs_purge_task() == 0  # a second run changes nothing
