"""Answering a survey: once per invitation, rewarded once, announced once.

Exactly once (invariant 2): the invitation row is locked first, so two submissions of the same
link at the same moment run one after the other and the second finds it answered; the one-to-one
``Response.invitation`` is the backstop. The reward is a ledger row with a unique key (one per
response; for an anonymous survey one per member and survey, so the ledger cannot tie a member to
an answer). ``survey.response_completed`` carries the NPS group so the complaints app can follow
up on detractors without this app knowing about complaints.
"""

import datetime as dt
import hashlib
import secrets
from collections.abc import Mapping
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import get_language

from apps.core import events
from apps.loyalty.enums import BonusKind, EarnEvent
from apps.loyalty.models import LoyaltyAccount
from apps.loyalty.services import bonus_award

from ..answering import answers_clean
from ..enums import Measure, SurveyStatus, score_group
from ..exceptions import AlreadyAnswered, AnswersInvalid, InvitationExpired, SurveyNotOpen
from ..models import Answer, AskedMark, Invitation, Response
from ..selectors import question_list

# Links stay answerable while a survey is paused (pausing stops new invitations only).
ANSWERABLE = (SurveyStatus.LIVE, SurveyStatus.PAUSED)


def invitation_check_answerable(*, invitation: Invitation, now: dt.datetime | None = None) -> None:
    """Raise why this link cannot be answered now (answered, survey not open, expired)."""
    if invitation.completed_at is not None:
        raise AlreadyAnswered()
    if invitation.survey.status not in ANSWERABLE:
        raise SurveyNotOpen()
    if invitation.is_expired(now):
        raise InvitationExpired()


def _reward_key(*, invitation: Invitation, response: Response) -> str:
    if invitation.survey.anonymous:
        reference = f"survey:{invitation.survey_id}"
    else:
        reference = f"response:{response.pk}"
    digest = hashlib.sha256(reference.encode()).hexdigest()[:32]
    return f"event:{EarnEvent.SURVEY_COMPLETED}:{invitation.customer_id}:{digest}"


def _keep_asked_mark(invitation: Invitation) -> None:
    if invitation.customer_id is None:
        return
    asked = timezone.localdate(invitation.sent_at or invitation.created_at)
    AskedMark.objects.bulk_create(
        [
            AskedMark(
                survey_id=invitation.survey_id,
                customer_id=invitation.customer_id,
                context=invitation.context,
                order_id=invitation.order_id,
                asked_on=asked,
            )
        ],
        ignore_conflicts=True,
    )


@transaction.atomic
def response_submit(
    *,
    invitation: Invitation,
    answers: Mapping[str, Any],
    language: str | None = None,
    at: dt.datetime | None = None,
) -> Response:
    """Store the answers to an invitation: validated against the questions shown (required,
    ranges, choices, conditional display), once. Refuses with ``AlreadyAnswered``,
    ``SurveyNotOpen``, ``InvitationExpired`` or ``AnswersInvalid`` (errors by question id, in
    the active language); a refusal writes nothing. Pays the survey's reward points to an
    identified member and publishes ``survey.response_completed``."""
    now = at or timezone.now()
    invitation = (
        Invitation.objects.select_for_update(of=("self",))
        .select_related("survey")
        .get(pk=invitation.pk)
    )
    invitation_check_answerable(invitation=invitation, now=now)
    survey = invitation.survey
    questions = question_list(survey=survey)
    cleaned, errors = answers_clean(questions, answers)
    if errors:
        raise AnswersInvalid(errors)
    by_measure = {q.measure: q.pk for q in questions if q.measure}

    def measure(name: str) -> int | None:
        answer = cleaned.get(by_measure.get(name))
        return answer.number if answer is not None else None

    nps = measure(Measure.NPS)
    customer_id = invitation.customer_id
    tier_id = None
    if customer_id is not None:
        tier_id = (
            LoyaltyAccount.objects.filter(customer_id=customer_id)
            .values_list("tier_id", flat=True)
            .first()
        )
    response = Response.objects.create(
        survey=survey,
        invitation=invitation,
        customer_id=None if survey.anonymous else customer_id,
        submitted_at=now,
        language=(language or get_language() or "")[:10],
        channel=invitation.channel,
        store_id=invitation.store_id,
        tier_id=tier_id,
        nps_score=nps,
        score_group=score_group(nps),
        csat_score=measure(Measure.CSAT),
        ces_score=measure(Measure.CES),
    )
    Answer.objects.bulk_create(
        Answer(
            response=response,
            question_id=question_id,
            number=answer.number,
            text=answer.text,
            choices=answer.choices,
        )
        for question_id, answer in cleaned.items()
    )
    if survey.reward_points and customer_id is not None:
        tx = bonus_award(
            customer=invitation.customer,
            points=survey.reward_points,
            key=_reward_key(invitation=invitation, response=response),
            reason=str(survey.title)[:100],
            at=now,
            source_ref=f"survey:{survey.slug}"[:64],
            detail={"bonus": BonusKind.EVENT, "event": EarnEvent.SURVEY_COMPLETED},
        )
        if tx is not None:
            response.reward_points = survey.reward_points
            response.save(update_fields=["reward_points"])
    changes: dict[str, Any] = {"completed_at": now}
    if invitation.opened_at is None:
        changes["opened_at"] = now
    if invitation.started_at is None:
        changes["started_at"] = now
    if survey.anonymous:
        # Nothing left on the invitation ties the answers to the person (or their order); the
        # fact that they were asked stays apart, for the unique keys and the cooldown.
        _keep_asked_mark(invitation)
        changes.update(customer=None, order=None, context=f"answered:{secrets.token_hex(8)}")
    Invitation.objects.filter(pk=invitation.pk).update(**changes)
    for name, value in changes.items():
        setattr(invitation, name, value)
    events.publish(
        "survey.response_completed",
        response_id=response.pk,
        survey_id=survey.pk,
        customer_id=response.customer_id,
        score_group=response.score_group,
        nps_score=nps,
    )
    return response


def invitation_mark(*, invitation: Invitation, step: str, at: dt.datetime | None = None) -> None:
    """Record that the link was opened (``step="opened"``) or the first answer given
    (``"started"``), once: the first time is kept."""
    if step not in ("opened", "started"):
        raise ValueError(step)
    now = at or timezone.now()
    column = f"{step}_at"
    if getattr(invitation, column) is not None:
        return
    updates = {column: now}
    if step == "started" and invitation.opened_at is None:
        updates["opened_at"] = now
    Invitation.objects.filter(pk=invitation.pk, **{f"{column}__isnull": True}).update(**updates)
    for name, value in updates.items():
        setattr(invitation, name, value)
