"""Reads about one member's surveys for staff: the 360° page's panel and the customer timeline.

Each function runs a fixed number of queries whatever the member's history (the 360° page has
a query budget). Free-text answers of identified members are personal data that only staff with
``surveys.view_text_answers`` read (agents see the scores, not the words): the panel is built
with ``show_text`` and replaces each text it may not show with ``hidden=True``.
"""

import datetime as dt
from dataclasses import dataclass, field

from django.db.models import Prefetch, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.core.formatting import choice_label
from apps.core.timeline import TimelineEvent
from apps.customers.models import Customer

from .enums import InvitationChannel, InvitationStatus, QuestionType, ScoreGroup, SurveyStatus
from .models import Answer, Choice, Invitation, Response

RESPONSES_ON_PANEL = 20
NPS_HISTORY = 12
MAX_OPEN = 10


@dataclass(frozen=True)
class AnswerLine:
    question: str
    value: str
    is_text: bool = False
    hidden: bool = False


@dataclass(frozen=True)
class ResponseRow:
    response: Response
    answers: list[AnswerLine] = field(default_factory=list)

    @property
    def survey(self):
        return self.response.survey


@dataclass(frozen=True)
class NpsPoint:
    at: dt.datetime
    score: int
    group: str


@dataclass(frozen=True)
class MemberSurveys:
    responses: list[ResponseRow]
    nps_history: list[NpsPoint]  # oldest first
    open_invitations: list[Invitation]
    text_hidden: bool

    @property
    def latest_nps(self) -> NpsPoint | None:
        return self.nps_history[-1] if self.nps_history else None

    @property
    def is_empty(self) -> bool:
        return not self.responses and not self.open_invitations


def answer_display(answer: Answer) -> str:
    question = answer.question
    if question.type == QuestionType.YES_NO and answer.number is not None:
        return _("Yes") if answer.number else _("No")
    if answer.choices:
        labels = {c.value: c.label for c in question.choices.all()}
        return ", ".join(labels.get(value, value) for value in answer.choices)
    if answer.number is not None:
        return str(answer.number)
    return answer.text


def _answer_lines(response: Response, *, show_text: bool) -> list[AnswerLine]:
    lines = []
    for answer in response.answers.all():  # prefetched, in question order
        is_text = answer.question.type == QuestionType.TEXT
        hidden = is_text and not show_text
        lines.append(
            AnswerLine(
                question=answer.question.text,
                value="" if hidden else answer_display(answer),
                is_text=is_text,
                hidden=hidden,
            )
        )
    return lines


def member_surveys(
    *, customer: Customer, show_text: bool, limit: int = RESPONSES_ON_PANEL
) -> MemberSurveys:
    """The member's newest responses (with their answers in question order), the NPS scores
    among them (oldest first, at most ``NPS_HISTORY``) and the invitations they can still
    answer. One query on the member's invitations (answered or still open: a response of an
    identified member always hangs on that member's invitation, through merges and erasure
    alike), and two more for the answers and choice labels when there are responses."""
    now = timezone.now()
    answers = Answer.objects.select_related("question").order_by(
        "question__position", "question_id"
    )
    open_now = Q(
        completed_at__isnull=True,
        survey__status__in=[SurveyStatus.LIVE, SurveyStatus.PAUSED],
    ) & (Q(expires_at__isnull=True) | Q(expires_at__gt=now))
    invitations = list(
        Invitation.objects.filter(customer=customer, status=InvitationStatus.SENT)
        .filter(Q(response__customer=customer) | open_now)
        .select_related("survey", "response")
        .prefetch_related(
            Prefetch("response__answers", queryset=answers),
            Prefetch(
                "response__answers__question__choices",
                queryset=Choice.objects.order_by("position"),
            ),
        )
        .order_by("-sent_at", "-id")[: limit + MAX_OPEN]
    )
    responses = []
    for invitation in invitations:
        response = getattr(invitation, "response", None)
        if response is not None:
            response.survey = invitation.survey  # the same survey, already loaded
            responses.append(response)
    responses.sort(key=lambda r: (r.submitted_at, r.pk), reverse=True)
    responses = responses[:limit]
    opened = [i for i in invitations if getattr(i, "response", None) is None]
    opened.sort(key=lambda i: (i.expires_at is None, i.expires_at or now, i.pk))
    rows = [
        ResponseRow(response=r, answers=_answer_lines(r, show_text=show_text)) for r in responses
    ]
    history = [
        NpsPoint(at=r.submitted_at, score=r.nps_score, group=r.score_group)
        for r in reversed(responses)
        if r.nps_score is not None
    ][-NPS_HISTORY:]
    return MemberSurveys(
        responses=rows,
        nps_history=history,
        open_invitations=opened[:MAX_OPEN],
        text_hidden=not show_text,
    )


# --- the customer timeline (registered in SurveysConfig.ready) ----------------------------------


def _response_detail(response: Response) -> str:
    parts = []
    if response.nps_score is not None:
        parts.append(
            _("NPS %(score)s (%(group)s)")
            % {"score": response.nps_score, "group": ScoreGroup(response.score_group).label}
        )
    if response.csat_score is not None:
        parts.append(_("CSAT %(score)s/5") % {"score": response.csat_score})
    if response.ces_score is not None:
        parts.append(_("CES %(score)s") % {"score": response.ces_score})
    if response.reward_points:
        parts.append(_("+%(points)s points") % {"points": response.reward_points})
    return " · ".join(parts)


def surveys_timeline_rows(*, customer: Customer) -> QuerySet[Invitation]:
    return Invitation.objects.filter(customer=customer, status=InvitationStatus.SENT)


def surveys_timeline(
    invitations: QuerySet[Invitation], *, customer: Customer
) -> list[TimelineEvent]:
    """Invitations sent to the member and their responses: one query (an answered invitation
    brings its response along)."""
    events: list[TimelineEvent] = []
    for invitation in invitations.select_related("survey", "response"):
        survey = invitation.survey
        response = getattr(invitation, "response", None)
        if response is not None and response.customer_id == customer.pk:
            events.append(
                TimelineEvent(
                    at=response.submitted_at,
                    kind="survey",
                    icon="chat-square-quote",
                    title=_("Answered the survey “%(title)s”") % {"title": survey.title},
                    detail=_response_detail(response),
                    extra={"score_group": response.score_group},
                )
            )
        if invitation.sent_at is not None:
            events.append(
                TimelineEvent(
                    at=invitation.sent_at,
                    kind="survey",
                    icon="envelope-paper",
                    title=_("Invited to the survey “%(title)s”") % {"title": survey.title},
                    detail=choice_label(InvitationChannel, invitation.channel),
                )
            )
    return events
