"""Reads for surveys: surveys and their questions, invitations by token or member."""

import datetime as dt

from django.db.models import OuterRef, Prefetch, Q, QuerySet, Subquery
from django.utils import timezone

from apps.customers.models import Customer

from .enums import InvitationStatus, SurveyStatus
from .exceptions import InvitationNotFound, SurveyNotFound
from .models import Choice, Invitation, Question, Response, Survey


def survey_get(*, pk: int | None = None, slug: str | None = None) -> Survey:
    """A survey by id or code; ``SurveyNotFound`` (404) otherwise."""
    lookup = {"pk": pk} if pk is not None else {"slug": slug}
    survey = Survey.objects.filter(**lookup).first() if pk is not None or slug else None
    if survey is None:
        raise SurveyNotFound()
    return survey


def survey_list(*, status: str = "", query: str = "") -> QuerySet[Survey]:
    qs = Survey.objects.all()
    if status:
        qs = qs.filter(status=status)
    if query:
        qs = qs.filter(
            Q(title_en__icontains=query)
            | Q(title_zh_hans__icontains=query)
            | Q(slug__icontains=query)
        )
    return qs.order_by("-created_at", "-id")


def question_list(*, survey: Survey) -> list[Question]:
    """The survey's questions in order, each with its choices (two queries)."""
    return list(
        Question.objects.filter(survey=survey)
        .select_related("show_if_question")
        .prefetch_related(Prefetch("choices", queryset=Choice.objects.order_by("position", "id")))
        .order_by("position", "id")
    )


def survey_has_responses(*, survey: Survey) -> bool:
    return survey.responses.exists()


def invitation_get_by_token(*, token: str) -> Invitation:
    """The invitation of a survey link, with its survey; ``InvitationNotFound`` (404) for an
    unknown token or one that was skipped (never sent)."""
    if not token or len(token) > 64:
        raise InvitationNotFound()
    invitation = (
        Invitation.objects.select_related("survey", "customer")
        .filter(token=token, status=InvitationStatus.SENT)
        .first()
    )
    if invitation is None:
        raise InvitationNotFound()
    return invitation


def invitation_list_open_for_member(*, customer: Customer) -> list[Invitation]:
    """Invitations the member can still answer: sent, not answered, not expired, survey open."""
    now = timezone.now()
    return list(
        Invitation.objects.filter(
            customer=customer,
            status=InvitationStatus.SENT,
            completed_at__isnull=True,
            survey__status__in=[SurveyStatus.LIVE, SurveyStatus.PAUSED],
        )
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .select_related("survey")
        .order_by("expires_at", "id")
    )


def invitation_list_answered_for_member(*, customer: Customer, limit: int = 50) -> list:
    """The member's own responses, newest first (with the survey)."""
    return list(
        customer.survey_responses.select_related("survey").order_by("-submitted_at", "-id")[:limit]
    )


def invitation_get_for_member(*, customer: Customer, pk: int) -> Invitation:
    """One of the member's invitations; ``InvitationNotFound`` (404) for anybody else's."""
    invitation = (
        Invitation.objects.select_related("survey")
        .filter(pk=pk, customer=customer, status=InvitationStatus.SENT)
        .first()
    )
    if invitation is None:
        raise InvitationNotFound()
    return invitation


def last_nps(*, outer_ref: str = "pk", as_of: dt.datetime | None = None) -> dict[str, Subquery]:
    """Subqueries for a customer queryset: the score and group of their latest NPS answer
    (by ``as_of`` when given), for ``.annotate(**last_nps())``."""
    latest = Response.objects.filter(customer=OuterRef(outer_ref), nps_score__isnull=False)
    if as_of is not None:
        latest = latest.filter(submitted_at__lte=as_of)
    latest = latest.order_by("-submitted_at", "-pk")
    return {
        "last_nps_score": Subquery(latest.values("nps_score")[:1]),
        "last_nps_group": Subquery(latest.values("score_group")[:1]),
    }


def last_nps_by_customer(*, as_of: dt.datetime) -> dict[int, tuple[int, str]]:
    """Per customer who answered an NPS question by ``as_of``: (score, group) of the latest."""
    rows = (
        Response.objects.filter(
            customer__isnull=False, nps_score__isnull=False, submitted_at__lte=as_of
        )
        .order_by("customer_id", "submitted_at", "pk")
        .values_list("customer_id", "nps_score", "score_group")
    )
    # Ascending order: the last row per customer wins.
    return {cid: (score, group) for cid, score, group in rows}
