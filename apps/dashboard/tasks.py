"""The staff dashboard's one job: writing a large export in the background. It lives beside the
export table (``export_sources``) because a list's export is defined by the list's filters;
the rows themselves come from the domain apps' export services."""

from celery import shared_task
from django.db import OperationalError

from .exporting import export_job_build


@shared_task(
    name="dashboard.export_job_run",
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
)
def export_job_run(job_id: str) -> str | None:
    """Queued on commit by the export view. A duplicate delivery finds the job claimed and does
    nothing; a delivery after a worker died mid-file claims the stale job and starts again."""
    job = export_job_build(job_id)
    return None if job is None else job.status
