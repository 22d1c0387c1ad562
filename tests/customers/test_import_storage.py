"""Import uploads live in the private storage, never at a path of one machine: the web process
saves them there, the worker and the erasure read and delete them through it (with S3 the web
and worker tiers share no disk). Here the private storage is an in-memory one: nothing it holds
is at any path. Job rows from before keep an absolute path; the migration turns it into a name."""

import csv
import io
from importlib import import_module
from pathlib import Path, PurePath

import pytest
from django.apps import apps as django_apps
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.base import ContentFile
from django.core.files.storage import InMemoryStorage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import TestCase
from openpyxl import Workbook

from apps.core.models import AuditEvent
from apps.core.private_files import private_storage
from apps.customers.importing.jobs import import_job_create, import_job_start
from apps.customers.importing.retention import import_jobs_purge, import_jobs_scrub
from apps.customers.models import Customer, ImportJob
from apps.customers.tasks import import_job_run_task
from tests.customers.factories import CustomerFactory

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).parent / "fixtures"
GOOD_CSV = (FIXTURES / "customers_good.csv").read_bytes()
MIGRATION = import_module("apps.customers.migrations.0013_importjob_stored_name")


@pytest.fixture
def memory_storage(settings, tmp_path):
    """The private storage is in memory: its files exist at no path (neither under its nominal
    location nor under PRIVATE_MEDIA_ROOT, both left uncreated), so code that reads or writes
    an upload by path fails."""
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"
    nowhere = tmp_path / "nowhere"
    settings.STORAGES = {
        **settings.STORAGES,
        "private": {
            "BACKEND": "django.core.files.storage.InMemoryStorage",
            "OPTIONS": {"location": str(nowhere)},
        },
    }
    storage = private_storage()
    assert isinstance(storage, InMemoryStorage)
    yield storage
    assert not settings.PRIVATE_MEDIA_ROOT.exists() and not nowhere.exists()


def _as_xlsx(content: bytes) -> bytes:
    book = Workbook()
    for row in csv.reader(io.StringIO(content.decode("utf-8-sig"))):
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _upload(name: str, content: bytes) -> ImportJob:
    with TestCase.captureOnCommitCallbacks(execute=False):
        return import_job_create(
            kind="customers", upload=SimpleUploadedFile(name, content), actor=None
        )


@pytest.mark.parametrize(
    ("name", "content"),
    [("people.csv", GOOD_CSV), ("people.xlsx", _as_xlsx(GOOD_CSV))],
    ids=["csv", "xlsx"],
)
def test_an_import_runs_end_to_end_on_a_storage_without_paths(
    import_shop, memory_storage, name, content
):
    job = _upload(name, content)

    assert job.stored_path == f"imports/{job.pk}{PurePath(name).suffix}"
    with memory_storage.open(job.stored_path, "rb") as fh:
        assert fh.read() == content
    assert import_job_run_task(str(job.pk)) == "previewed"
    job.refresh_from_db()
    assert (job.total_rows, job.error_count, job.summary["created"]) == (3, 0, 2)
    assert memory_storage.exists(job.stored_path)

    with TestCase.captureOnCommitCallbacks(execute=False):
        import_job_start(job=job, actor=None)
    assert import_job_run_task(str(job.pk)) == "done"

    job.refresh_from_db()
    assert (job.status, job.processed_rows, job.stored_path) == ("done", 3, "")
    assert memory_storage.listdir("imports") == ([], [])  # the upload is deleted
    assert Customer.objects.count() == 4  # the shop's two members and the file's two
    assert AuditEvent.objects.filter(action="import.customers").count() == 1


def test_erasure_scans_and_deletes_a_pending_upload_through_the_storage(
    memory_storage, django_capture_on_commit_callbacks
):
    person = CustomerFactory(first_name="Zeb", last_name="Quill", email="zeb@example.org")
    naming = _upload(
        "may.csv",
        b"first_name,last_name,email,phone\nAda,Lovelace,ada@example.org,\nZ,Q,ZEB@example.org,\n",
    )
    other = _upload(
        "june.csv", b"first_name,last_name,email,phone\nAda,Lovelace,ada@example.org,\n"
    )

    with django_capture_on_commit_callbacks(execute=True):
        assert import_jobs_scrub(customer=person) == 1

    naming.refresh_from_db()
    other.refresh_from_db()
    assert (naming.status, naming.stored_path, other.status) == ("failed", "", "pending")
    assert memory_storage.listdir("imports") == ([], [f"{other.pk}.csv"])


def test_the_migration_turns_absolute_paths_under_the_root_into_storage_names(settings, tmp_path):
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"
    name = private_storage().save("imports/old.csv", ContentFile(b"first_name\n"))
    under = ImportJob.objects.create(
        kind="customers", file_name="a.csv", stored_path=str(settings.PRIVATE_MEDIA_ROOT / name)
    )
    elsewhere = ImportJob.objects.create(
        kind="customers", file_name="b.csv", stored_path="/srv/elsewhere/imports/b.csv"
    )
    current = ImportJob.objects.create(
        kind="customers", file_name="c.csv", stored_path="imports/c.csv"
    )
    gone = ImportJob.objects.create(kind="customers", file_name="d.csv", stored_path="")

    MIGRATION.to_storage_names(django_apps, None)

    rows = ImportJob.objects.in_bulk([under.pk, elsewhere.pk, current.pk, gone.pk])
    assert [rows[j.pk].stored_path for j in (under, elsewhere, current, gone)] == [
        "imports/old.csv",
        "/srv/elsewhere/imports/b.csv",
        "imports/c.csv",
        "",
    ]
    with private_storage().open(rows[under.pk].stored_path, "rb") as fh:
        assert fh.read() == b"first_name\n"  # the same file, found through the storage

    MIGRATION.to_absolute_paths(django_apps, None)

    under.refresh_from_db()
    assert under.stored_path == str(settings.PRIVATE_MEDIA_ROOT / "imports" / "old.csv")


def test_a_job_whose_old_path_is_outside_the_storage_fails_cleanly(settings, tmp_path):
    """A path the migration left alone names no file of the private storage: the job fails (it
    cannot be read), and its name is forgotten rather than retried every night."""
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"
    outside = tmp_path / "elsewhere" / "people.csv"
    job = ImportJob.objects.create(
        kind="customers", file_name="people.csv", stored_path=str(outside), status="pending"
    )

    with pytest.raises(SuspiciousFileOperation):
        import_job_run_task(str(job.pk))

    job.refresh_from_db()
    assert (job.status, job.stored_path, job.error_count) == ("failed", "", 1)
    assert import_jobs_purge() == 0
