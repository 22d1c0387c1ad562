"""Retention and erasure of import data.

An uploaded file is a copy of many people's personal data. It lives only while its job can
still run: it is deleted as soon as the job is done or failed. The preview rows and error
messages stay for the staff who ran the import, for IMPORT_RETENTION_DAYS; a job uploaded but
never started is closed after the same time. An erasure also scrubs them at once: the
``imports`` privacy section (registered in ``CustomersConfig.ready()``) calls
``import_jobs_scrub``. The file is in the private storage (``ImportJob.stored_path`` is its
storage name), read and deleted through it.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from contextlib import closing
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import SuspiciousFileOperation
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.core.private_files import private_storage

from ..models import Customer, ImportJob
from ..suppression import ERASED_TEXT
from .files import ImportFileError, raw_rows, stored_file_copy

log = logging.getLogger(__name__)

IMPORT_RETENTION_DAYS = 30
# Jobs holding a file that no worker is on: uploaded, or previewed and waiting for staff.
IDLE_STATUSES = tuple(s for s in ImportJob.Status.values if s in ("pending", "previewed"))


def job_file_discard(job: ImportJob) -> None:
    """Delete the job's uploaded file from the private storage (one already gone is fine) and
    forget its name."""
    if job.stored_path:
        _stored_file_delete(job.stored_path)
        ImportJob.objects.filter(pk=job.pk).update(stored_path="")


def _stored_file_delete(name: str) -> None:
    try:
        private_storage().delete(name)
    except SuspiciousFileOperation:
        # An absolute path the migration to storage names left alone (not under
        # PRIVATE_MEDIA_ROOT): no file of the private storage, nothing to delete through it.
        log.warning("import file %r is outside the private storage; not deleted", name)


def import_jobs_purge(*, now: dt.datetime | None = None, days: int | None = None) -> int:
    """Apply the retention above: delete the files of finished jobs; after ``days`` clear the
    preview and errors of finished jobs (counts and summary stay) and close jobs never started
    (failed, file deleted). Returns the number of jobs changed; running it twice changes
    nothing more."""
    now = now or timezone.now()
    cutoff = now - dt.timedelta(days=IMPORT_RETENTION_DAYS if days is None else days)
    finished = [ImportJob.Status.DONE, ImportJob.Status.FAILED]
    changed: set[Any] = set()
    for job in ImportJob.objects.filter(status__in=finished).exclude(stored_path=""):
        job_file_discard(job)
        changed.add(job.pk)
    stale = ImportJob.objects.filter(status__in=finished, finished_at__lt=cutoff).exclude(
        preview=[], errors=[]
    )
    changed.update(stale.values_list("pk", flat=True))
    stale.update(preview=[], errors=[])
    for job in ImportJob.objects.filter(status__in=IDLE_STATUSES, created_at__lt=cutoff):
        closed = ImportJob.objects.filter(pk=job.pk, status=job.status).update(
            status=ImportJob.Status.FAILED,
            finished_at=now,
            preview=[],
            errors=[_("Never started; the uploaded file was deleted.")],
            error_count=1,
        )
        if closed:
            job_file_discard(job)
            changed.add(job.pk)
    return len(changed)


@dataclass(frozen=True)
class _Person:
    """What identifies one customer in import data, lower-cased."""

    email: str
    phones: tuple[str, ...]
    member_number: str
    names: tuple[str, ...]  # "first last", "last first", "lastfirst"
    first_name: str
    last_name: str

    @classmethod
    def of(cls, customer: Customer) -> _Person:
        first, last = customer.first_name.strip().lower(), customer.last_name.strip().lower()
        phone = customer.phone.strip()
        return cls(
            email=customer.email.strip().lower(),
            phones=tuple(p for p in {phone, phone.lstrip("+")} if p),
            member_number=customer.member_number,
            names=(f"{first} {last}", f"{last} {first}", f"{last}{first}")
            if first and last
            else (),
            first_name=first,
            last_name=last,
        )

    def in_text(self, text: str) -> bool:
        low = text.lower()
        needles = (self.email, *self.phones, self.member_number, *self.names)
        return any(n and n in low for n in needles)

    def in_cells(self, cells: list[str]) -> bool:
        low = {c.strip().lower() for c in cells if c}
        digits = {re.sub(r"\D", "", c) for c in low}
        if self.email in low or self.member_number in low:
            return True
        # A file may hold the national form (137…) of the stored +86 137… number.
        if any(len(d) >= 9 and p.lstrip("+").endswith(d) for p in self.phones for d in digits):
            return True
        named = self.first_name in low and self.last_name in low
        return bool(self.first_name and self.last_name and named) or any(
            self.in_text(c) for c in low
        )


def _scrub_rows(rows: list, person: _Person) -> tuple[list, bool]:
    out, changed = [], False
    for row in rows:
        if isinstance(row, dict) and person.in_cells([str(v) for v in row.values()]):
            row, changed = {k: ERASED_TEXT for k in row}, True
        elif isinstance(row, str) and person.in_text(row):
            row, changed = ERASED_TEXT, True
        out.append(row)
    return out, changed


def _file_mentions(name: str, person: _Person) -> bool:
    try:
        with stored_file_copy(name) as path, closing(raw_rows(path)) as rows:
            return any(person.in_cells(row) for row in rows)
    except (OSError, ImportFileError, SuspiciousFileOperation):
        return False


def import_jobs_scrub(*, customer: Customer) -> int:
    """Part of an erasure (invariant 10), inside its transaction: preview rows and error
    messages of any import job that mention the customer's e-mail, phone, member number or
    name become "(erased)". A job not started yet whose file mentions them is closed and the
    file deleted on commit -- running it would bring their data back. Returns jobs changed."""
    person = _Person.of(customer)
    changed: set[Any] = set()
    for job in ImportJob.objects.order_by("pk").iterator():
        preview, in_preview = _scrub_rows(job.preview or [], person)
        errors, in_errors = _scrub_rows(job.errors or [], person)
        fields: dict[str, Any] = {}
        if in_preview:
            fields["preview"] = preview
        if in_errors:
            fields["errors"] = errors
        if person.in_text(job.file_name):
            fields["file_name"] = ERASED_TEXT
        if fields:
            ImportJob.objects.filter(pk=job.pk).update(**fields)
            changed.add(job.pk)
        if job.status not in IDLE_STATUSES or not job.stored_path:
            continue
        if fields or _file_mentions(job.stored_path, person):
            # Conditional, like the worker's claim: whichever comes first wins.
            closed = ImportJob.objects.filter(pk=job.pk, status=job.status).update(
                status=ImportJob.Status.FAILED,
                finished_at=timezone.now(),
                errors=[_("Closed: the file held data of a customer who was erased.")],
                error_count=1,
                stored_path="",
            )
            if closed:
                name = job.stored_path
                transaction.on_commit(lambda n=name: _stored_file_delete(n))
                changed.add(job.pk)
    return len(changed)


def erase_imports(*, customer: Customer) -> None:
    """The ``imports`` privacy section's eraser."""
    import_jobs_scrub(customer=customer)
