"""The closed loop: a detractor's survey answer opens a follow-up ticket when the survey asks
for it, once per response (``source_ref`` is unique)."""

from __future__ import annotations

import logging

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _

from apps.core.events import Event
from apps.customers.models import Customer
from apps.surveys.models import Answer, Survey

from ..enums import Priority, TicketChannel
from ..models import Category, ComplaintSettings, Ticket
from .tickets import ticket_open

log = logging.getLogger(__name__)


def _follow_up_category() -> Category | None:
    chosen = ComplaintSettings.get().follow_up_category
    if chosen is not None and chosen.active:
        return chosen
    return Category.objects.filter(active=True, parent__isnull=True).order_by("position").first()


def _description(response_id: int, survey: Survey, score) -> str:
    lines = [
        _("Score %(score)s in the survey “%(survey)s”.") % {"score": score, "survey": survey.title}
    ]
    answers = (
        Answer.objects.filter(response_id=response_id)
        .exclude(text="")
        .select_related("question")
        .order_by("question__position")
    )
    for answer in answers:
        lines.append(f"{answer.question.text}\n{answer.text}")
    return "\n\n".join(lines)


def on_survey_response_completed(event: Event) -> Ticket | None:
    """``survey.response_completed`` (after commit): a detractor of a survey that follows them up
    gets a high-priority ticket in the follow-up category."""
    payload = event.payload
    if payload.get("score_group") != "detractor" or not payload.get("customer_id"):
        return None
    survey = Survey.objects.filter(pk=payload["survey_id"], follow_up_detractors=True).first()
    customer = Customer.objects.filter(pk=payload["customer_id"]).first()
    if survey is None or customer is None:
        return None
    while customer.merged_into_id is not None:
        customer = customer.merged_into
    if customer.anonymized_at is not None:
        return None
    category = _follow_up_category()
    if category is None:
        log.warning("No complaint category for the follow-up of response %s", payload)
        return None
    with translation.override(settings.LANGUAGE_CODE):
        subject = _("Follow-up: %(survey)s, score %(score)s") % {
            "survey": survey.title,
            "score": payload.get("nps_score"),
        }
        description = _description(payload["response_id"], survey, payload.get("nps_score"))
    return ticket_open(
        customer=customer,
        category=category,
        subject=subject[:200],
        description=description[:5000],
        channel=TicketChannel.SURVEY,
        priority=Priority.HIGH,
        source_ref=f"survey-response:{payload['response_id']}",
    )
