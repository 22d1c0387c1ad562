"""Background exports: a list export that matches more than ``EXPORT_BACKGROUND_ROWS`` rows is
written by a worker instead of in the request.

The export itself is the one the request would have written (the same audited rows, from the
same service, in the language of whoever started it); this module only carries it: it claims
the job (a worker that crashed mid-file leaves a running job whose heartbeat goes stale, and the
redelivered task starts the file again), writes CSV or openpyxl write-only XLSX to a temporary
file in constant memory while it records progress, stores the file in private storage (never
served by URL) and sets the link's expiry. The nightly ``export_jobs_purge`` deletes the files
whose links have expired; the job rows stay as history.

Who may download a file, and when, is decided in one place: ``export_job_downloadable``."""

import datetime as dt
import logging
import tempfile
from collections.abc import Iterable, Iterator, Sequence

from django.conf import settings
from django.core.files import File
from django.db import transaction
from django.db.models import Q
from django.utils import timezone, translation

from .exports import ExportRows, csv_lines, export_filename, xlsx_file
from .models import ExportJob
from .private_files import private_storage

log = logging.getLogger(__name__)

# Progress is written every this many rows (one UPDATE), which also serves as the heartbeat.
PROGRESS_EVERY = 5_000
# A running job without progress for this long belongs to a worker that died: claim it again.
STALE_AFTER = dt.timedelta(minutes=10)
STORAGE_PREFIX = "exports"


def export_background_threshold() -> int:
    """Exports of more rows than this run in the background."""
    return settings.EXPORT_BACKGROUND_ROWS


@transaction.atomic
def export_job_create(
    *, kind: str, fmt: str, params: dict[str, str], actor, total_rows: int
) -> ExportJob:
    """Queue an export of ``kind`` with the list's ``params``; the caller queues the worker's
    task on commit. ``total_rows`` is the count the list showed, for the progress bar."""
    if fmt not in ExportJob.Format.values:
        raise ValueError(f"unknown export format {fmt!r}")
    return ExportJob.objects.create(
        kind=kind,
        fmt=fmt,
        params={k: str(v) for k, v in params.items() if v not in ("", None)},
        language=translation.get_language() or settings.LANGUAGE_CODE,
        total_rows=total_rows,
        created_by=actor,
    )


def export_job_claim(*, job_id, now: dt.datetime | None = None) -> ExportJob | None:
    """Mark the job running for this worker and return it; None when it is done, failed,
    expired, or running with a live heartbeat (a duplicate delivery). One conditional UPDATE,
    so two workers never both write the same job."""
    now = now or timezone.now()
    claimable = Q(status=ExportJob.Status.QUEUED) | Q(
        status=ExportJob.Status.RUNNING, heartbeat_at__lt=now - STALE_AFTER
    )
    claimed = ExportJob.objects.filter(claimable, pk=job_id).update(
        status=ExportJob.Status.RUNNING, heartbeat_at=now, processed_rows=0, error=""
    )
    if not claimed:
        return None
    return ExportJob.objects.select_related("created_by").get(pk=job_id)


class _Progress:
    """Counts the rows as the writer takes them, recording progress (and the heartbeat)."""

    def __init__(self, job: ExportJob):
        self.job = job
        self.written = 0

    def rows(self, rows: Iterable[Sequence]) -> Iterator[Sequence]:
        for row in rows:
            yield row
            self.written += 1
            if self.written % PROGRESS_EVERY == 0:
                ExportJob.objects.filter(pk=self.job.pk).update(
                    processed_rows=self.written, heartbeat_at=timezone.now()
                )


def _write_csv(export: ExportRows, rows: Iterable[Sequence]):
    handle = tempfile.TemporaryFile()  # noqa: SIM115 (closed by the caller)
    buffer: list[str] = []
    for line in csv_lines(export.header, rows):
        buffer.append(line)
        if len(buffer) >= 1000:
            handle.write("".join(buffer).encode())
            buffer.clear()
    handle.write("".join(buffer).encode())
    handle.seek(0)
    return handle


def export_job_write(*, job: ExportJob, export: ExportRows, title: str, basename: str) -> ExportJob:
    """Write ``export`` (the audited rows of the job's list) to private storage and make the
    job downloadable until ``EXPORT_LINK_HOURS`` from now."""
    progress = _Progress(job)
    rows = progress.rows(export.rows)
    if job.fmt == ExportJob.Format.CSV:
        handle = _write_csv(export, rows)
    else:
        handle = xlsx_file(title=title, header=export.header, rows=rows)
    now = timezone.now()
    file_name = f"{export_filename(basename)}-{timezone.localdate(now):%Y%m%d}.{job.fmt}"
    try:
        stored = private_storage().save(f"{STORAGE_PREFIX}/{job.pk}/{file_name}", File(handle))
        size = private_storage().size(stored)
    finally:
        handle.close()
    job.status = ExportJob.Status.DONE
    job.total_rows = job.processed_rows = progress.written
    job.truncated = export.truncated
    job.file_name = file_name
    job.stored_name = stored
    job.size = size
    job.finished_at = now
    job.heartbeat_at = now
    job.expires_at = now + dt.timedelta(hours=settings.EXPORT_LINK_HOURS)
    job.save(
        update_fields=[
            "status",
            "total_rows",
            "processed_rows",
            "truncated",
            "file_name",
            "stored_name",
            "size",
            "finished_at",
            "heartbeat_at",
            "expires_at",
        ]
    )
    return job


def export_job_fail(*, job: ExportJob, error: str) -> None:
    """Record why the job could not be written (the message is shown to whoever started it)."""
    job.status, job.error = ExportJob.Status.FAILED, error[:2000]
    ExportJob.objects.filter(pk=job.pk).update(
        status=ExportJob.Status.FAILED, error=error[:2000], finished_at=timezone.now()
    )


def export_job_downloadable(*, job: ExportJob, user, now: dt.datetime | None = None) -> bool:
    """Only whoever started the export, only while the link lasts, only a finished file."""
    now = now or timezone.now()
    return (
        job.created_by_id == user.pk
        and job.status == ExportJob.Status.DONE
        and job.expires_at is not None
        and now < job.expires_at
        and bool(job.stored_name)
    )


def export_jobs_for(*, user, limit: int = 10) -> list[ExportJob]:
    """The user's newest background exports."""
    return list(ExportJob.objects.filter(created_by=user).order_by("-created_at")[:limit])


def export_jobs_purge(*, now: dt.datetime | None = None) -> int:
    """Delete the files of exports whose links have expired (and of failed jobs' partial
    files, should any exist); returns how many jobs expired now."""
    now = now or timezone.now()
    expired = 0
    due = ExportJob.objects.filter(status=ExportJob.Status.DONE, expires_at__lte=now)
    for job in due.order_by("expires_at").iterator():
        if job.stored_name:
            try:
                private_storage().delete(job.stored_name)
            except OSError:
                log.warning("export file of job %s could not be deleted", job.pk, exc_info=True)
                continue
        expired += ExportJob.objects.filter(pk=job.pk, status=ExportJob.Status.DONE).update(
            status=ExportJob.Status.EXPIRED, stored_name=""
        )
    return expired
