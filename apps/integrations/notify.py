"""Telling the Administrators that the sender disabled an endpoint: one e-mail each, in their
language, after commit (the webhooks page says it too, with a red banner)."""

from __future__ import annotations

import logging
from smtplib import SMTPException

from celery import shared_task
from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from apps.accounts.roles import ADMINISTRATOR
from apps.accounts.selectors import users_in_role

from .models import Endpoint

log = logging.getLogger(__name__)


def endpoint_disabled_mail(*, endpoint_id: int) -> int:
    """E-mail every Administrator that the endpoint was disabled; returns how many went out (a
    mail server failure is logged and leaves 0)."""
    endpoint = Endpoint.objects.filter(pk=endpoint_id, active=False).first()
    if endpoint is None:
        return 0  # enabled again meanwhile
    page_url = settings.SITE_URL.rstrip("/") + reverse(
        "dashboard:integration-detail", kwargs={"pk": endpoint.pk}
    )
    messages = []
    for user in users_in_role(role=ADMINISTRATOR):
        with translation.override(user.language or settings.LANGUAGE_CODE):
            subject = _("Webhook endpoint disabled: %(name)s") % {"name": endpoint}
            body = render_to_string(
                "emails/webhook_disabled.txt", {"endpoint": endpoint, "page_url": page_url}
            )
        messages.append(
            EmailMessage(
                subject=f"[Clientele] {subject}",
                body=body,
                from_email=settings.DEFAULT_FROM_EMAIL,
                to=[user.email],
                headers={"Auto-Submitted": "auto-generated"},
            )
        )
    if not messages:
        return 0
    try:
        return get_connection().send_messages(messages) or 0
    except (SMTPException, OSError):
        log.exception("webhook endpoint %s: the disabled notice failed", endpoint.pk)
        return 0


@shared_task(name="integrations.endpoint_disabled_mail", acks_late=True)
def endpoint_disabled_mail_task(endpoint_id: int) -> int:
    return endpoint_disabled_mail(endpoint_id=endpoint_id)


def endpoint_disabled_queue(*, endpoint_id: int) -> None:
    transaction.on_commit(lambda: endpoint_disabled_mail_task.delay(endpoint_id))
