"""Staff-facing import services: upload a file (stored privately, its dry run queued) and
start a previewed job (its import queued). They queue the worker's task (``tasks``), so they
sit above it; the worker's side is ``runner``."""

import uuid
from pathlib import Path
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.accounts.models import User
from apps.core.exceptions import ValidationFailed
from apps.core.private_files import private_storage

from ..models import ImportJob
from .files import import_upload_check
from .runner import IMPORTERS
from .tasks import import_job_run_task


@transaction.atomic
def import_job_create(*, kind: str, upload: Any, actor: User | None) -> ImportJob:
    """Store an uploaded file in the private storage as ``imports/<job id><ext>`` (the job
    keeps that storage name: the worker may run on another machine) and queue its dry run (the
    whole file is checked by the worker, not in the upload request): the job, ``pending``,
    then keeps the row count, the first errors and a preview of the first rows. Nothing else
    is written."""
    if kind not in IMPORTERS:
        raise ValidationFailed(_("Unknown import kind."))
    suffix = import_upload_check(name=upload.name, size=upload.size)
    job_id = uuid.uuid4()
    stored = private_storage().save(f"imports/{job_id}{suffix}", upload)
    job = ImportJob.objects.create(
        id=job_id,
        kind=kind,
        file_name=Path(upload.name).name[:255],
        stored_path=stored,
        status=ImportJob.Status.PENDING,
        created_by=actor if actor is not None and actor.pk else None,
    )
    transaction.on_commit(lambda: import_job_run_task.delay(str(job_id)))
    return job


@transaction.atomic
def import_job_start(*, job: ImportJob, actor: User | None) -> ImportJob:
    """Queue the real import of a previewed job (once; a second start changes nothing)."""
    job = ImportJob.objects.select_for_update().get(pk=job.pk)
    if job.queued_at is not None:
        raise ValidationFailed(_("This import has already been started."))
    if job.status in (ImportJob.Status.PENDING, ImportJob.Status.VALIDATING):
        raise ValidationFailed(_("The file is still being checked."))
    if job.error_count or job.status != ImportJob.Status.PREVIEWED:
        raise ValidationFailed(_("Fix the errors in the file and upload it again."))
    job.queued_at = timezone.now()
    job.save(update_fields=["queued_at"])
    transaction.on_commit(lambda: import_job_run_task.delay(str(job.pk)))
    return job
