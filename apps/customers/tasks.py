"""Customer jobs for Celery (autodiscovered here): the import jobs live beside the importing
services that queue them."""

from .importing.tasks import (
    IMPORT_DB_RETRIES,
    IMPORT_DB_RETRY_SECONDS,
    import_job_run_task,
    import_jobs_purge_task,
)

__all__ = [
    "IMPORT_DB_RETRIES",
    "IMPORT_DB_RETRY_SECONDS",
    "import_job_run_task",
    "import_jobs_purge_task",
]
