"""Customer jobs for Celery. Thin: they take ids and call a service."""

from celery import shared_task
from django.db import OperationalError

from .imports import import_job_run


@shared_task(
    name="customers.import_job_run",
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=3,
)
def import_job_run_task(job_id: str) -> str | None:
    """Run a queued ImportJob; a duplicate delivery finds the job claimed and does nothing."""
    job = import_job_run(job_id=job_id)
    return job.status if job is not None else None
