"""Import jobs for Celery. Thin: they take ids and call a service. Defined here, inside the
importing package, so that ``jobs`` can queue them without a cycle; ``apps.customers.tasks``
exposes them to Celery's autodiscovery."""

from celery import shared_task
from django.db import OperationalError

from .retention import import_jobs_purge
from .runner import ImportJobBusy, import_job_fail, import_job_run

# A database error hands the job back and is retried this many times, after 10, 20, 40, 80
# and 160 seconds; then the job is marked failed.
IMPORT_DB_RETRIES = 5
IMPORT_DB_RETRY_SECONDS = 10


@shared_task(
    bind=True,
    name="customers.import_job_run",
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=None,  # bounded below: database errors by IMPORT_DB_RETRIES
)
def import_job_run_task(self, job_id: str, db_retries: int = 0) -> str | None:
    """Run the next pass of an ImportJob (its dry run, or its confirmed import). Safe to
    deliver twice: a duplicate finds nothing to do, or waits while a live worker has the job;
    a delivery after a worker died runs the orphaned job again (see import_job_run)."""
    try:
        job = import_job_run(job_id=job_id)
    except ImportJobBusy as busy:
        raise self.retry(
            args=(job_id,), kwargs={"db_retries": db_retries}, countdown=busy.retry_in
        ) from None
    except OperationalError as exc:
        if db_retries >= IMPORT_DB_RETRIES:
            import_job_fail(job_id=job_id)
            raise
        raise self.retry(
            exc=exc,
            args=(job_id,),
            kwargs={"db_retries": db_retries + 1},
            countdown=IMPORT_DB_RETRY_SECONDS * 2**db_retries,
        ) from None
    return job.status if job is not None else None


@shared_task(name="customers.import_jobs_purge", acks_late=True)
def import_jobs_purge_task() -> int:
    """Nightly retention of import data (files, previews, errors); safe to run twice."""
    return import_jobs_purge()
