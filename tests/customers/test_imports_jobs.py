"""ImportJob services and the Celery task, run directly: both passes in the worker (dry run,
then the confirmed import), duplicate deliveries, orphaned jobs of a dead worker, and the retry
of database errors."""

import datetime as dt
from pathlib import Path

import pytest
from celery.exceptions import Retry
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import OperationalError, connection, connections
from django.test import TestCase
from django.utils import timezone

from apps.core.exceptions import ValidationFailed
from apps.core.models import AuditEvent
from apps.core.private_files import private_storage
from apps.customers.importing.jobs import import_job_create, import_job_start
from apps.customers.importing.runner import JOB_STALE_AFTER, _job_lock_key
from apps.customers.models import Customer, ImportJob, Order, OrderLine
from apps.customers.tasks import IMPORT_DB_RETRIES, import_job_run_task

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("private_media")]

FIXTURES = Path(__file__).parent / "fixtures"


def uploaded(kind: str = "orders", name: str = "orders.csv", content: bytes | None = None):
    """A job as the upload request leaves it (its dry-run task not run yet)."""
    content = content if content is not None else (FIXTURES / "orders_good.csv").read_bytes()
    with TestCase.captureOnCommitCallbacks(execute=False) as queued:
        job = import_job_create(kind=kind, upload=SimpleUploadedFile(name, content), actor=None)
    assert len(queued) == 1  # the dry run, queued for the worker
    return job


def previewed(**kwargs) -> ImportJob:
    job = uploaded(**kwargs)
    assert import_job_run_task(str(job.pk)) == "previewed"
    return ImportJob.objects.get(pk=job.pk)


def started(**kwargs) -> ImportJob:
    job = previewed(**kwargs)
    with TestCase.captureOnCommitCallbacks(execute=False) as queued:
        job = import_job_start(job=job, actor=None)
    assert len(queued) == 1  # the import, queued for the worker
    return job


def started_committed() -> ImportJob:
    """``started()`` for transactional tests, where on_commit callbacks run at once (and Celery
    is eager): the upload's dry run has run when import_job_create returns; the confirmation is
    written as import_job_start writes it, and its task is the one the test runs."""
    with open(FIXTURES / "orders_good.csv", "rb") as fh:
        job = import_job_create(
            kind="orders", upload=SimpleUploadedFile("orders.csv", fh.read()), actor=None
        )
    assert ImportJob.objects.filter(pk=job.pk, status="previewed").update(queued_at=timezone.now())
    job.refresh_from_db()
    return job


def stored(job: ImportJob) -> bytes | None:
    """The job's upload as the private storage holds it (None when it is gone)."""
    if not job.stored_path or not private_storage().exists(job.stored_path):
        return None
    with private_storage().open(job.stored_path, "rb") as fh:
        return fh.read()


def state(job: ImportJob) -> tuple:
    job.refresh_from_db()
    return job.status, job.processed_rows, job.error_count, job.finished_at is not None


# --- the dry run is the worker's ------------------------------------------------------------


def test_the_upload_request_only_stores_the_file_and_queues_the_dry_run(import_shop):
    job = uploaded()

    assert (job.status, job.total_rows, job.error_count, job.preview, job.summary) == (
        "pending",
        0,
        0,
        [],
        {},
    )
    # Kept in the private storage under a name of the job's (no path of this machine).
    assert job.stored_path == f"imports/{job.pk}.csv"
    assert stored(job) == (FIXTURES / "orders_good.csv").read_bytes()
    assert Order.objects.count() == 0


def test_the_dry_run_task_previews_and_writes_nothing(import_shop):
    job = uploaded()

    assert import_job_run_task(str(job.pk)) == "previewed"

    job.refresh_from_db()
    assert (job.status, job.total_rows, job.processed_rows, job.error_count) == (
        "previewed",
        4,
        4,
        0,
    )
    assert (job.summary["created"], job.summary["lines"], job.finished_at) == (3, 3, None)
    assert [row["external_id"] for row in job.preview] == ["A-1", "A-1", "A-2", "A-3"]
    assert job.heartbeat_at is None and stored(job) is not None
    assert (Order.objects.count(), AuditEvent.objects.count()) == (0, 0)


def test_a_dry_run_with_errors_fails_the_job_and_deletes_the_file(import_shop):
    job = uploaded(
        kind="customers",
        name="people.csv",
        content=b"first_name,last_name,email,phone,store\nAnn,Lee,ann@example.com,12345,sh-01\n",
    )
    name = job.stored_path

    assert import_job_run_task(str(job.pk)) == "failed"

    job.refresh_from_db()
    assert (job.status, job.error_count, job.errors) == (
        "failed",
        1,
        ["row 2, column phone: “12345” is not a valid phone number."],
    )
    assert not private_storage().exists(name) and job.stored_path == ""
    assert Customer.objects.count() == 2  # the shop's two members only


def test_a_job_cannot_be_started_before_its_dry_run(import_shop):
    job = uploaded()

    with pytest.raises(Exception, match="still being checked"):
        import_job_start(job=job, actor=None)

    job.refresh_from_db()
    assert (job.status, job.queued_at) == ("pending", None)


def _failed_dry_run() -> ImportJob:
    job = uploaded(
        kind="customers",
        name="people.csv",
        content=b"first_name,last_name,email,phone,store\nAnn,Lee,ann@example.com,12345,sh-01\n",
    )
    assert import_job_run_task(str(job.pk)) == "failed"
    return ImportJob.objects.get(pk=job.pk)


@pytest.mark.parametrize(
    ("make_job", "status", "message"),
    [
        (started, "previewed", "This import has already been started."),
        (_failed_dry_run, "failed", "Fix the errors in the file and upload it again."),
    ],
    ids=["started-twice", "dry-run-failed"],
)
def test_a_job_that_cannot_be_started_is_refused_and_nothing_changes(
    import_shop, make_job, status, message
):
    # Given a job already started, or one whose dry run found errors
    job = make_job()
    queued_at = job.queued_at
    counts = (Customer.objects.count(), Order.objects.count(), OrderLine.objects.count())

    # When staff start it (again)
    with (
        TestCase.captureOnCommitCallbacks(execute=False) as queued,
        pytest.raises(ValidationFailed) as refused,
    ):
        import_job_start(job=job, actor=None)

    # Then it is refused with the reason, nothing is queued and nothing is written
    assert (refused.value.code, refused.value.message) == ("validation_error", message)
    assert queued == []
    job.refresh_from_db()
    assert (job.status, job.queued_at) == (status, queued_at)
    assert (queued_at is None) == (status == "failed")
    assert (Customer.objects.count(), Order.objects.count(), OrderLine.objects.count()) == counts
    assert counts == (2, 0, 0)  # the shop's two members only


# --- the import, and deliveries that come twice ---------------------------------------------


def test_the_confirmed_import_runs_once_whatever_the_deliveries(import_shop):
    job = started()

    assert import_job_run_task(str(job.pk)) == "done"
    assert import_job_run_task(str(job.pk)) is None  # the same message delivered again

    assert state(job) == ("done", 4, 0, True)
    assert (Order.objects.count(), OrderLine.objects.count()) == (3, 3)
    assert AuditEvent.objects.filter(action="import.orders").count() == 1
    assert job.stored_path == ""


def test_a_redelivered_dry_run_of_a_previewed_job_does_nothing(import_shop):
    job = previewed()

    assert import_job_run_task(str(job.pk)) is None

    assert state(job) == ("previewed", 4, 0, False) and job.queued_at is None


# --- a worker died: the job is orphaned -------------------------------------------------------


def _orphan(job: ImportJob, status: str) -> None:
    """What a worker killed mid-run leaves behind: the job in progress, no progress since (its
    write transaction, if it had begun, rolled back)."""
    ImportJob.objects.filter(pk=job.pk).update(
        status=status,
        processed_rows=2,
        heartbeat_at=timezone.now() - JOB_STALE_AFTER - dt.timedelta(minutes=1),
    )


def test_a_dry_run_stuck_in_validating_is_run_again_by_the_redelivered_task(import_shop):
    job = uploaded()
    _orphan(job, "validating")

    assert import_job_run_task(str(job.pk)) == "previewed"

    assert state(job) == ("previewed", 4, 0, False)
    assert job.summary["created"] == 3 and Order.objects.count() == 0


def test_an_import_stuck_in_running_is_run_again_and_writes_everything_once(import_shop):
    job = started()
    _orphan(job, "running")

    assert import_job_run_task(str(job.pk)) == "done"

    assert state(job) == ("done", 4, 0, True)
    assert (Order.objects.count(), OrderLine.objects.count()) == (3, 3)
    assert AuditEvent.objects.filter(action="import.orders").count() == 1


def test_a_job_a_live_worker_holds_is_left_to_it(import_shop):
    """A duplicate delivery while the first worker is alive neither runs the job again nor
    drops it: it retries later. PostgreSQL knows the worker lives by its advisory lock on the
    job; elsewhere by its recent progress."""
    job = started()
    ImportJob.objects.filter(pk=job.pk).update(
        status="validating", processed_rows=2, heartbeat_at=timezone.now()
    )
    other = connections.create_connection("default")
    try:
        if connection.vendor == "postgresql":
            with other.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_lock(%s)", [_job_lock_key(job.pk)])

        with pytest.raises(Retry):
            import_job_run_task(str(job.pk))
    finally:
        other.close()

    assert state(job) == ("validating", 2, 0, False)
    assert Order.objects.count() == 0


def test_an_unexpected_error_fails_the_job_at_once(import_shop):
    job = started()
    private_storage().delete(job.stored_path)  # the file is gone: no retry can help

    with pytest.raises(FileNotFoundError):
        import_job_run_task(str(job.pk))

    assert state(job) == ("failed", 0, 1, True)
    assert job.errors == ["The import failed unexpectedly; nothing was written."]
    assert Order.objects.count() == 0


# --- database errors are retried ----------------------------------------------------------------


@pytest.fixture
def orders_locked():
    """Another session holds a SHARE lock on the orders table: reads pass, the import's write
    waits and, with a short lock_timeout, fails with a real OperationalError."""
    other = connections.create_connection("default")
    other.set_autocommit(False)
    with other.cursor() as cursor:
        cursor.execute(f"LOCK TABLE {Order._meta.db_table} IN SHARE MODE")
    with connection.cursor() as cursor:
        cursor.execute("SET lock_timeout = '200ms'")
    try:
        yield other
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET lock_timeout")
        if other.connection is not None:
            other.rollback()
        other.close()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_database_error_hands_the_job_back_and_the_retry_imports(import_shop, orders_locked):
    job = started_committed()

    with pytest.raises(OperationalError):
        import_job_run_task(str(job.pk))  # called directly, the retry re-raises the error

    # Handed back as it was before the run, ready for the retry: not failed, file kept.
    assert state(job) == ("previewed", 0, 0, False) and job.queued_at is not None
    assert job.heartbeat_at is None and stored(job) is not None
    assert Order.objects.count() == 0

    orders_locked.rollback()  # the database is fine again
    assert import_job_run_task(str(job.pk), db_retries=1) == "done"

    assert state(job) == ("done", 4, 0, True)
    assert (Order.objects.count(), OrderLine.objects.count()) == (3, 3)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_last_database_error_fails_the_job(import_shop, orders_locked):
    job = started_committed()
    name = job.stored_path

    with pytest.raises(OperationalError):
        import_job_run_task(str(job.pk), db_retries=IMPORT_DB_RETRIES)

    assert state(job) == ("failed", 0, 1, True)
    assert job.errors == ["The import failed unexpectedly; nothing was written."]
    assert not private_storage().exists(name) and Order.objects.count() == 0
