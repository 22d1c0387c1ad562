"""The surveys app's part of "download my data", erasure and merging (``apps.core.privacy``;
registered in ``SurveysConfig.ready()``).

Export: ``survey_invitations`` (which survey, channel, status or skip reason, what it was
about, sent / opened / completed / expiry times; the link's token is left out: it is a
credential, not information about the person) and ``survey_responses`` (the survey, when,
the headline scores, reward points, and every answer as ``{question, value}``).

Erasure (invariant 10) keeps the figures and cuts the person out of them: the member's
responses keep their scores and answers for the statistics, but ``Response.customer`` becomes
null and their free-text answers read "(erased)" (what someone writes may name them). Their
invitations lose the customer and the order (``order=None``, ``context="erased:<id>"``), as an
anonymous survey's answered invitation does, so nothing leads from the answers back to the
person through their kept orders; the invited / completed counts stay. Running it twice
changes nothing more. Anonymous surveys never stored the link; the marks that the member was
asked (``AskedMark``: survey, context, day) are deleted. The export lists those marks too.

Merge (after the customers and loyalty mergers): the merged-away member's responses and
invitations move to the survivor. One invitation per (survey, customer, context) is a unique
key; where both had one for the same survey and context (say both were picked by hand for the
same survey), the survivor's keeps its context and the source's moves with the context
suffixed ``~m<source id>`` (its history, and its response if answered, stay on the survivor);
if the source's one is still open it is expired at the merge, so the person answers that
survey and context once. Invitations per order are unique by (survey, order), whoever holds
them, so they never collide.
"""

from typing import Any

from django.db.models import CharField, OuterRef, Value
from django.db.models.functions import Cast, Concat
from django.utils import timezone

from apps.customers.models import Customer
from apps.customers.services.export import row_of
from apps.customers.suppression import ERASED_TEXT

from .enums import QuestionType
from .member_selectors import answer_display
from .models import Answer, AskedMark, Invitation, Response

_INVITATION_INTERNAL = ("customer", "token", "survey")
_RESPONSE_INTERNAL = ("customer", "survey", "invitation")
MERGE_SUFFIX = "~m{source}"


def export_invitations(*, customer: Customer) -> list[dict]:
    rows = Invitation.objects.filter(customer=customer).select_related("survey").order_by("id")
    marks = AskedMark.objects.filter(customer=customer).select_related("survey").order_by("id")
    return [
        {"survey": i.survey.slug, "survey_title": str(i.survey.title)}
        | row_of(i, exclude=_INVITATION_INTERNAL)
        for i in rows
    ] + [
        # Answered anonymously: that they were asked, and when; the answers are not theirs.
        {
            "survey": m.survey.slug,
            "survey_title": str(m.survey.title),
            "status": "answered_anonymously",
            "context": m.context,
            "asked_on": m.asked_on,
        }
        for m in marks
    ]


def export_responses(*, customer: Customer) -> list[dict]:
    rows = (
        Response.objects.filter(customer=customer)
        .select_related("survey")
        .prefetch_related("answers__question__choices")
        .order_by("submitted_at", "id")
    )
    out = []
    for response in rows:
        answers = sorted(response.answers.all(), key=lambda a: (a.question.position, a.question_id))
        out.append(
            {"survey": response.survey.slug, "survey_title": str(response.survey.title)}
            | row_of(response, exclude=_RESPONSE_INTERNAL)
            | {
                "answers": [
                    {"question": str(a.question.text), "value": answer_display(a)} for a in answers
                ]
            }
        )
    return out


def erase(*, customer: Customer) -> None:
    """Cut the member out of their survey data; keep every response and answer for the
    figures (texts blanked). Safe to run twice."""
    Answer.objects.filter(response__customer=customer, question__type=QuestionType.TEXT).exclude(
        text__in=("", ERASED_TEXT)
    ).update(text=ERASED_TEXT)
    Response.objects.filter(customer=customer).update(customer=None)
    AskedMark.objects.filter(customer=customer).delete()
    Invitation.objects.filter(customer=customer).update(
        customer=None,
        order=None,
        context=Concat(Value("erased:"), Cast("pk", output_field=CharField())),
    )


def merge(*, source: Customer, target: Customer, actor: Any) -> dict[str, int]:
    """Move the source's invitations and responses to the survivor (see the module
    docstring for two invitations of the same survey and context)."""
    now = timezone.now()
    taken = set(Invitation.objects.filter(customer=target).values_list("survey_id", "context"))
    colliding = [
        invitation
        for invitation in Invitation.objects.filter(customer=source).only(
            "pk", "survey_id", "context", "completed_at", "expires_at"
        )
        if (invitation.survey_id, invitation.context) in taken
    ]
    suffix = MERGE_SUFFIX.format(source=source.pk)
    for invitation in colliding:
        changes: dict[str, Any] = {
            "customer": target,
            "context": f"{invitation.context[: 64 - len(suffix)]}{suffix}",
        }
        if invitation.completed_at is None and (
            invitation.expires_at is None or invitation.expires_at > now
        ):
            changes["expires_at"] = now
        Invitation.objects.filter(pk=invitation.pk).update(**changes)
    moved = Invitation.objects.filter(customer=source).update(customer=target)
    # Asked marks: the survivor's own mark for the same survey and context stands for both.
    AskedMark.objects.filter(customer=source).filter(
        context__in=AskedMark.objects.filter(customer=target, survey=OuterRef("survey")).values(
            "context"
        )
    ).delete()
    AskedMark.objects.filter(customer=source).update(customer=target)
    responses = Response.objects.filter(customer=source).update(customer=target)
    return {
        "invitations": moved + len(colliding),
        "invitations_renamed": len(colliding),
        "responses": responses,
    }
