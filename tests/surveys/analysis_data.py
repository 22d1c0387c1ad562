"""Bulk test data for the survey analysis: invitations, responses and answers created set-based
(three ``bulk_create`` calls), shaped like ``nps_survey()``'s questions."""

import datetime as dt

from django.utils import timezone

from apps.surveys.enums import (
    InvitationChannel,
    InvitationStatus,
    Measure,
    QuestionType,
    score_group,
)
from apps.surveys.models import Answer, Invitation, Response, Survey
from apps.surveys.services.invitations import token_new


def bulk_responses(survey: Survey, rows: list[dict], *, customer=None) -> list[Response]:
    """One response per row. Row keys: ``nps`` (0–10), ``staff`` (1–5), ``found`` (0/1),
    ``reason`` (choice code or list), ``text``, ``csat``, ``ces``, ``at`` (datetime),
    ``channel``, ``store``, ``tier``. Answers go to the first question of each type."""
    by_type: dict[str, int] = {}
    by_measure: dict[str, int] = {}
    for q in survey.questions.order_by("position", "id"):
        by_type.setdefault(q.type, q.pk)
        if q.measure:
            by_measure[q.measure] = q.pk
    now = timezone.now()
    invitations = Invitation.objects.bulk_create(
        Invitation(
            survey=survey,
            customer=None,
            token=token_new(),
            channel=row.get("channel", InvitationChannel.EMAIL),
            status=InvitationStatus.SENT,
            context=f"bulk:{token_new()[:16]}",
            created_at=row.get("at", now),
            sent_at=row.get("at", now),
            opened_at=row.get("at", now),
            started_at=row.get("at", now),
            completed_at=row.get("at", now),
        )
        for row in rows
    )
    responses = Response.objects.bulk_create(
        Response(
            survey=survey,
            invitation=inv,
            customer=None if survey.anonymous else customer,
            submitted_at=row.get("at", now),
            channel=row.get("channel", InvitationChannel.EMAIL),
            store=row.get("store"),
            tier=row.get("tier"),
            nps_score=row.get("nps"),
            score_group=score_group(row.get("nps")),
            csat_score=row.get("csat"),
            ces_score=row.get("ces"),
        )
        for inv, row in zip(invitations, rows, strict=True)
    )
    answers = []
    for response, row in zip(responses, rows, strict=True):
        if row.get("nps") is not None and Measure.NPS in by_measure:
            answers.append(
                Answer(response=response, question_id=by_measure[Measure.NPS], number=row["nps"])
            )
        if row.get("csat") is not None and Measure.CSAT in by_measure:
            answers.append(
                Answer(response=response, question_id=by_measure[Measure.CSAT], number=row["csat"])
            )
        if row.get("ces") is not None and Measure.CES in by_measure:
            answers.append(
                Answer(response=response, question_id=by_measure[Measure.CES], number=row["ces"])
            )
        if row.get("staff") is not None:
            answers.append(
                Answer(
                    response=response, question_id=by_type[QuestionType.RATING], number=row["staff"]
                )
            )
        if row.get("found") is not None:
            answers.append(
                Answer(
                    response=response, question_id=by_type[QuestionType.YES_NO], number=row["found"]
                )
            )
        if row.get("reason"):
            chosen = row["reason"] if isinstance(row["reason"], list) else [row["reason"]]
            answers.append(
                Answer(
                    response=response,
                    question_id=by_type[QuestionType.SINGLE_CHOICE],
                    choices=chosen,
                )
            )
        if row.get("text"):
            answers.append(
                Answer(response=response, question_id=by_type[QuestionType.TEXT], text=row["text"])
            )
    Answer.objects.bulk_create(answers)
    return responses


def days_ago(n: int) -> dt.datetime:
    return timezone.now() - dt.timedelta(days=n)
