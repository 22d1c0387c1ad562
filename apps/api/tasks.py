"""API housekeeping for Celery beat. Thin and idempotent: a second run deletes nothing more."""

from celery import shared_task
from django.db import OperationalError

from apps.core.idempotency import idempotency_keys_purge


@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True)
def idempotency_keys_purge_expired() -> int:
    """Delete Idempotency-Key rows older than ``IDEMPOTENCY_KEY_TTL_HOURS``."""
    return idempotency_keys_purge()
