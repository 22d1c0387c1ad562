"""Core jobs for Celery: the domain-event outbox (defined beside ``publish`` in
``apps.core.events``, so that publishing can queue delivery without a cycle)."""

from .events import outbox_deliver, outbox_sweep

__all__ = ["outbox_deliver", "outbox_sweep"]
