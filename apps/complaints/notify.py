"""Celery tasks for the ticket e-mails, queued by the services when their transaction commits.

``muted()`` holds them back for history that is generated, not lived (the demo's replayed
months of tickets): those conversations happened before anyone could be mailed."""

import contextlib
import contextvars

from celery import shared_task
from django.db import transaction

from . import mailing

_muted = contextvars.ContextVar("complaints_mail_muted", default=False)


@contextlib.contextmanager
def muted():
    token = _muted.set(True)
    try:
        yield
    finally:
        _muted.reset(token)


@shared_task(name="complaints.reply_email_send", acks_late=True, reject_on_worker_lost=True)
def reply_email_send_task(message_id: int) -> bool:
    return mailing.reply_email_send(message_id=message_id)


@shared_task(name="complaints.resolved_email_send", acks_late=True, reject_on_worker_lost=True)
def resolved_email_send_task(ticket_id: int) -> bool:
    return mailing.resolved_email_send(ticket_id=ticket_id)


@shared_task(name="complaints.escalation_email_send", acks_late=True, reject_on_worker_lost=True)
def escalation_email_send_task(ticket_id: int, level_id: int) -> int:
    return mailing.escalation_email_send(ticket_id=ticket_id, level_id=level_id)


def reply_email_queue(*, message_id: int) -> None:
    if _muted.get():
        return
    transaction.on_commit(lambda: reply_email_send_task.delay(message_id))


def resolved_email_queue(*, ticket_id: int) -> None:
    if _muted.get():
        return
    transaction.on_commit(lambda: resolved_email_send_task.delay(ticket_id))


def escalation_email_queue(*, ticket_id: int, level_id: int) -> None:
    if _muted.get():
        return
    transaction.on_commit(lambda: escalation_email_send_task.delay(ticket_id, level_id))
