"""Core jobs for Celery: the domain-event outbox (defined beside ``publish`` in
``apps.core.events``, so that publishing can queue delivery without a cycle) and the nightly
purge of expired background-export files."""

from celery import shared_task

from .events import outbox_deliver, outbox_sweep
from .export_jobs import export_jobs_purge

__all__ = ["export_files_purge", "outbox_deliver", "outbox_sweep"]


@shared_task(name="core.export_files_purge", acks_late=True)
def export_files_purge() -> int:
    """Nightly (beat): delete the files of background exports whose links have expired."""
    return export_jobs_purge()
