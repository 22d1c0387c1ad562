"""Attachments of a ticket: files already checked and cleaned (``apps.core.uploads``) are
written to private storage under random names and recorded on the ticket (and message).

A refused file never gets here, so a refusal stores nothing. Files are written before the rows
and, if the transaction then rolls back, remain as unreferenced private files (swept by
``attachments_orphans_purge``); a row never points at a missing file."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from apps.core.private_files import private_storage, store_private
from apps.core.uploads import CleanUpload

from ..models import Attachment, Ticket, TicketMessage

PREFIX = "complaints"


def attachments_add(
    *,
    ticket: Ticket,
    files: list[CleanUpload],
    message: TicketMessage | None = None,
    at: dt.datetime | None = None,
) -> list[Attachment]:
    now = at or timezone.now()
    return [
        Attachment.objects.create(
            ticket=ticket,
            message=message,
            file=store_private(clean, prefix=PREFIX),
            name=clean.name,
            content_type=clean.mime_type,
            size=clean.size,
            sha256=clean.sha256,
            at=now,
        )
        for clean in files
    ]


def attachments_orphans_purge(*, older_than: dt.timedelta = dt.timedelta(hours=6)) -> int:
    """Delete private files under ``complaints/`` that no attachment row names (left by a
    rolled-back transaction) and that are older than ``older_than`` (a file written by a
    transaction still running is not an orphan yet). Returns how many went."""
    storage = private_storage()
    cutoff = timezone.now() - older_than
    known = set(Attachment.objects.values_list("file", flat=True))
    removed = 0

    def walk(path: str):
        nonlocal removed
        try:
            folders, files = storage.listdir(path)
        except FileNotFoundError:
            return
        for name in files:
            full = f"{path}/{name}"
            if full not in known and storage.get_modified_time(full) < cutoff:
                storage.delete(full)
                removed += 1
        for folder in folders:
            walk(f"{path}/{folder}")

    walk(PREFIX)
    return removed
