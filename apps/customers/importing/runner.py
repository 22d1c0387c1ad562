"""An ImportJob's passes, run by the worker (``customers.import_job_run``): the dry run of a new
upload (→ previewed or failed), then, once staff start it, the import (→ done or failed)."""

import datetime as dt
import logging
import uuid
from collections.abc import Callable
from typing import Any

from django.db import DatabaseError, OperationalError, connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.core.db import is_postgres

from ..models import ImportJob
from .customers import customers_import
from .files import ImportFileError, rows_estimate, stored_file_copy
from .orders import orders_import
from .results import ImportResult, Progress
from .retention import job_file_discard

log = logging.getLogger(__name__)

IMPORTERS: dict[str, Callable[..., ImportResult]] = {
    ImportJob.Kind.CUSTOMERS: customers_import,
    ImportJob.Kind.ORDERS: orders_import,
}

# A validating/running job whose worker has shown no progress for this long is taken to be
# orphaned (the worker died) when its task is delivered again, and is run again from the
# start. Progress is written every PROGRESS_EVERY rows and before the write, so only a dead
# worker is this quiet. On PostgreSQL a live run also holds an advisory lock on its job, so an
# orphan is recognised at once, without waiting for the timeout.
JOB_STALE_AFTER = dt.timedelta(minutes=15)
# When a live run holds the job, a duplicate delivery looks again after this long.
JOB_BUSY_RETRY_SECONDS = 60
_IN_PROGRESS = (ImportJob.Status.VALIDATING, ImportJob.Status.RUNNING)


class ImportJobBusy(Exception):
    """Another worker is running this job right now; try again in ``retry_in`` seconds."""

    def __init__(self, retry_in: int) -> None:
        self.retry_in = retry_in
        super().__init__(f"import job busy, retry in {retry_in}s")


def _job_lock_key(job_id: Any) -> int:
    return int.from_bytes(uuid.UUID(str(job_id)).bytes[:8], "big", signed=True)


def _job_lock_take(job_id: Any) -> bool:
    """PostgreSQL: a session advisory lock on the job, held while this worker runs it and
    dropped by the server if the worker dies. Elsewhere there is none (always True)."""
    if not is_postgres():
        return True
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [_job_lock_key(job_id)])
        return bool(cursor.fetchone()[0])


def _job_lock_drop(job_id: Any) -> None:
    if not is_postgres():
        return
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [_job_lock_key(job_id)])
    except DatabaseError:  # the connection is gone, and its lock with it
        log.warning("import job %s: could not release its lock", job_id, exc_info=True)


def _job_claim(job_id: Any, now: dt.datetime) -> bool:
    """Take the job for this run with one conditional UPDATE: a job waiting for its dry run
    (pending; one confirmed already, as jobs queued before the dry run moved to the worker,
    goes straight to its import), a confirmed job waiting for its import, or an orphaned one
    (validating/running with a dead worker: nobody holds its lock on PostgreSQL, no progress
    for JOB_STALE_AFTER elsewhere). A run that crashed before its write committed wrote
    nothing (one transaction, rolled back); one that crashed after it, while its orders were
    earning, is finished by the re-run: the orders are found recorded identically and go to
    the after-import hooks again, which earn what has not earned yet."""
    orphaned = Q(status__in=_IN_PROGRESS)
    if not is_postgres():
        orphaned &= Q(heartbeat_at__isnull=True) | Q(heartbeat_at__lt=now - JOB_STALE_AFTER)
    waiting = Q(status=ImportJob.Status.PENDING) | Q(
        status=ImportJob.Status.PREVIEWED, queued_at__isnull=False
    )
    return bool(
        ImportJob.objects.filter(Q(pk=job_id) & (waiting | orphaned)).update(
            status=ImportJob.Status.VALIDATING, processed_rows=0, heartbeat_at=now
        )
    )


def _job_busy_for(job_id: Any, now: dt.datetime) -> int | None:
    """Seconds until a job another worker is running may be looked at again; None when the
    job needs nothing (finished, previewed and not confirmed, or gone)."""
    job = ImportJob.objects.filter(pk=job_id, status__in=_IN_PROGRESS).first()
    if job is None:
        return None
    if is_postgres() or job.heartbeat_at is None:
        return JOB_BUSY_RETRY_SECONDS
    return max(1, int((job.heartbeat_at + JOB_STALE_AFTER - now).total_seconds()) + 1)


def import_job_run(*, job_id: str) -> ImportJob | None:
    """Run the job's next pass: the dry run of a new upload (→ previewed, or failed when the
    file has errors), or the import of a confirmed one (→ done, or failed). Idempotent: a
    duplicate delivery finds nothing to do (returns None) or, while another worker is alive
    on the job, raises ImportJobBusy; a delivery for an orphaned job runs it again.

    Validation runs outside the write transaction, so the progress UPDATEs are visible to the
    polling page; the write itself is one transaction inside the importer. A database error
    (OperationalError) hands the job back as it was before this run and is re-raised for the
    task to retry; any other error fails the job (nothing was written)."""
    now = timezone.now()
    if not _job_lock_take(job_id):
        raise ImportJobBusy(JOB_BUSY_RETRY_SECONDS)
    try:
        if not _job_claim(job_id, now):
            busy_for = _job_busy_for(job_id, now)
            if busy_for is not None:
                raise ImportJobBusy(busy_for)
            return None
        return _job_pass(ImportJob.objects.select_related("created_by").get(pk=job_id))
    finally:
        _job_lock_drop(job_id)


def _job_pass(job: ImportJob) -> ImportJob:
    """One pass, every stage (counting, reading, validating, writing, saving the outcome) under
    one handler: a database error hands the job back for a retry; anything else fails the job
    with a message (nothing was written: the write is one transaction) and is re-raised -- or,
    when the write had committed already, closes it as done."""
    dry_run = job.queued_at is None
    ours = ImportJob.objects.filter(pk=job.pk, status__in=_IN_PROGRESS)

    def progress(status: str, processed: int, total: int) -> None:
        ours.update(
            status=status,
            processed_rows=processed,
            total_rows=total,
            heartbeat_at=timezone.now(),
        )

    written: ImportResult | None = None
    try:
        result = _job_result(job, dry_run=dry_run, progress=progress)
        if not dry_run and result.ok:
            written = result  # committed: from here on the job is done, whatever follows
        _job_save(job, ours, result, dry_run=dry_run)
    except OperationalError:
        log.warning("import job %s: database error, handing it back for a retry", job.pk)
        try:
            ours.update(
                status=ImportJob.Status.PENDING if dry_run else ImportJob.Status.PREVIEWED,
                processed_rows=0,
                heartbeat_at=None,
            )
        except DatabaseError:  # still down: the retry finds it orphaned instead
            log.warning("import job %s: could not hand it back", job.pk, exc_info=True)
        raise
    except Exception:
        log.exception("import job %s failed", job.pk)
        if written is None:
            import_job_fail(job_id=str(job.pk))
        else:
            _job_written(job, ours, written)
        raise
    job.refresh_from_db()
    return job


def _job_written(job: ImportJob, ours: Any, result: ImportResult) -> None:
    """Close a job whose rows were written although saving its outcome failed: it is done (a
    "failed, nothing was written" would be untrue), with its counts."""
    ours.update(
        status=ImportJob.Status.DONE,
        finished_at=timezone.now(),
        total_rows=result.rows,
        processed_rows=result.rows,
        error_count=0,
        errors=[],
        summary=result.summary(),
        heartbeat_at=None,
    )
    job_file_discard(job)


def _job_result(job: ImportJob, *, dry_run: bool, progress: Progress) -> ImportResult:
    # The upload is in the private storage, maybe on another machine: the pass reads a copy
    # of it that is deleted when the pass ends.
    with stored_file_copy(job.stored_path) as path:
        expected = job.total_rows
        if dry_run:
            expected = rows_estimate(path)
            progress(ImportJob.Status.VALIDATING, 0, expected)
        try:
            return IMPORTERS[job.kind](
                path=path,
                dry_run=dry_run,
                actor=job.created_by,
                progress=progress,
                file_name=job.file_name,
                expected_rows=expected,
            )
        except ImportFileError as exc:
            result = ImportResult(kind=job.kind, file_name=job.file_name, dry_run=dry_run)
            result.error_count, result.errors = 1, [exc.message]
            return result


def _json_safe(value: Any) -> Any:
    """PostgreSQL's jsonb cannot hold U+0000: the importers refuse NUL characters, and this
    keeps one that slipped through from making the outcome unsavable."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    if isinstance(value, dict):
        return {_json_safe(k): _json_safe(v) for k, v in value.items()}
    return value


def _job_save(job: ImportJob, ours: Any, result: ImportResult, *, dry_run: bool) -> None:
    # A savepoint: a refused UPDATE must not leave an enclosing transaction unusable for
    # import_job_fail.
    with transaction.atomic():
        if dry_run and result.ok:
            ours.update(
                status=ImportJob.Status.PREVIEWED,
                total_rows=result.rows,
                processed_rows=result.rows,
                error_count=0,
                errors=[],
                preview=_json_safe(result.preview),
                summary=result.summary(),
                heartbeat_at=None,
            )
            return
        fields: dict[str, Any] = {"preview": _json_safe(result.preview)} if dry_run else {}
        ours.update(
            status=ImportJob.Status.DONE if result.ok else ImportJob.Status.FAILED,
            finished_at=timezone.now(),
            total_rows=result.rows,
            processed_rows=result.rows,
            error_count=result.error_count,
            errors=_json_safe(result.errors),
            summary=result.summary(),
            heartbeat_at=None,
            **fields,
        )
    job_file_discard(job)


def import_job_fail(*, job_id: str) -> int:
    """Close a job that cannot be run (an unexpected error, or database errors past the
    task's retries): failed, with a message for staff, its file deleted. A finished job is
    left alone. Returns the number of jobs changed (0 or 1)."""
    job = ImportJob.objects.filter(pk=job_id).first()
    if job is None:
        return 0
    changed = (
        ImportJob.objects.filter(pk=job_id)
        .exclude(status__in=[ImportJob.Status.DONE, ImportJob.Status.FAILED])
        .update(
            status=ImportJob.Status.FAILED,
            finished_at=timezone.now(),
            error_count=1,
            errors=[_("The import failed unexpectedly; nothing was written.")],
            heartbeat_at=None,
        )
    )
    if changed:
        job_file_discard(job)
    return changed
