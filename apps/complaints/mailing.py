"""E-mails about a ticket: the member gets staff replies (answerable: the signed reply-to
address brings the answer back into the ticket) and the resolution with one-click rating
links; team leads and managers get escalations. Sent by Celery after commit (``notify``)."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from apps.accounts.models import User
from apps.accounts.roles import MANAGER
from apps.core.mail_signing import reply_address

from .enums import MessageKind, Notify
from .links import portal_url, rating_url
from .models import EscalationLevel, Ticket, TicketMessage


def _member_mail(ticket: Ticket, template: str, subject: str, context: dict) -> bool:
    customer = ticket.customer
    if not customer.email or customer.anonymized_at is not None:
        return False
    with translation.override(customer.preferred_language or settings.LANGUAGE_CODE):
        context = {
            **context,
            "ticket": ticket,
            "customer": customer,
            "portal_url": portal_url(reference=ticket.reference),
        }
        text = render_to_string(f"emails/{template}.txt", context)
        html = render_to_string(f"emails/{template}.html", context)
        subject = f"[{ticket.reference}] {subject}"
    message = EmailMultiAlternatives(
        subject=subject,
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[customer.email],
        reply_to=[reply_address("t", ticket.pk)],
        headers={"Auto-Submitted": "auto-generated" if template != "ticket_reply" else "no"},
    )
    message.attach_alternative(html, "text/html")
    message.send()
    return True


def reply_email_send(*, message_id: int) -> bool:
    """A staff reply to the member (never an internal note)."""
    message = (
        TicketMessage.objects.select_related("ticket__customer", "author")
        .filter(pk=message_id, kind=MessageKind.PUBLIC)
        .first()
    )
    if message is None or message.author_id is None:
        return False
    ticket = message.ticket
    return _member_mail(ticket, "ticket_reply", ticket.subject, {"message": message})


def resolved_email_send(*, ticket_id: int) -> bool:
    ticket = Ticket.objects.select_related("customer").filter(pk=ticket_id).first()
    if ticket is None:
        return False
    with translation.override(ticket.customer.preferred_language or settings.LANGUAGE_CODE):
        subject = _("Your complaint is resolved")
    ratings = [(s, rating_url(ticket_id=ticket.pk, score=s)) for s in range(5, 0, -1)]
    return _member_mail(ticket, "ticket_resolved", subject, {"ratings": ratings})


def _escalation_recipients(ticket: Ticket, level: EscalationLevel) -> list[str]:
    if level.notify == Notify.MANAGERS:
        users = User.objects.filter(is_active=True, groups__name=MANAGER)
    elif ticket.team is None:
        users = User.objects.none()
    elif level.notify == Notify.TEAM:
        users = ticket.team.members.filter(is_active=True)
    else:
        users = User.objects.filter(pk=ticket.team.lead_id, is_active=True)
    return sorted({u.email for u in users if u.email})


def escalation_email_send(*, ticket_id: int, level_id: int) -> int:
    ticket = Ticket.objects.select_related("team", "customer").filter(pk=ticket_id).first()
    level = EscalationLevel.objects.filter(pk=level_id).first()
    if ticket is None or level is None:
        return 0
    recipients = _escalation_recipients(ticket, level)
    if not recipients:
        return 0
    context = {
        "ticket": ticket,
        "level": level,
        "url": settings.SITE_URL.rstrip("/")
        + reverse("dashboard:ticket-detail", kwargs={"reference": ticket.reference}),
    }
    with translation.override(settings.LANGUAGE_CODE):
        subject = _("Escalation: %(reference)s at %(percent)s%% of its %(clock)s target") % {
            "reference": ticket.reference,
            "percent": level.percent,
            "clock": level.get_clock_display().lower(),
        }
        body = render_to_string("emails/ticket_escalation.txt", context)
    EmailMultiAlternatives(
        subject=subject, body=body, from_email=settings.DEFAULT_FROM_EMAIL, to=recipients
    ).send()
    return len(recipients)
