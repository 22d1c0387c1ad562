"""Factories for surveys. ``nps_survey()`` builds the usual shape: an NPS question feeding the
NPS, a rating driver, a yes/no, a single choice and a text shown only to detractors."""

import datetime as dt

import factory
from django.utils import timezone

from apps.customers.enums import Channel, ConsentPurpose
from apps.customers.models import ConsentRecord
from apps.surveys.enums import (
    InvitationChannel,
    InvitationStatus,
    Measure,
    QuestionType,
    SurveyKind,
    SurveyStatus,
)
from apps.surveys.models import Choice, Invitation, Question, Survey
from apps.surveys.services.invitations import token_new


class SurveyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Survey
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"survey-{n}")
    title_en = factory.Sequence(lambda n: f"Survey {n}")
    title_zh_hans = factory.Sequence(lambda n: f"调查 {n}")
    kind = SurveyKind.NPS
    status = SurveyStatus.LIVE
    invite_channels = factory.LazyFunction(
        lambda: [InvitationChannel.EMAIL, InvitationChannel.PORTAL]
    )


class QuestionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Question

    survey = factory.SubFactory(SurveyFactory)
    position = factory.Sequence(lambda n: n)
    type = QuestionType.RATING
    text_en = factory.Sequence(lambda n: f"Question {n}?")
    text_zh_hans = factory.Sequence(lambda n: f"问题 {n}？")
    required = True


class ChoiceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Choice

    question = factory.SubFactory(QuestionFactory, type=QuestionType.SINGLE_CHOICE)
    position = factory.Sequence(lambda n: n)
    value = factory.Sequence(lambda n: f"choice-{n}")
    label_en = factory.Sequence(lambda n: f"Choice {n}")
    label_zh_hans = factory.Sequence(lambda n: f"选项 {n}")


class InvitationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Invitation

    survey = factory.SubFactory(SurveyFactory)
    customer = factory.SubFactory("tests.customers.factories.CustomerFactory")
    token = factory.LazyFunction(token_new)
    channel = InvitationChannel.EMAIL
    status = InvitationStatus.SENT
    context = factory.Sequence(lambda n: f"manual-{n}")
    sent_at = factory.LazyFunction(timezone.now)
    expires_at = factory.LazyFunction(lambda: timezone.now() + dt.timedelta(days=14))


def nps_survey(**kwargs) -> Survey:
    """A live NPS survey: q1 NPS (measure nps), q2 rating "staff" (required), q3 yes/no
    "found everything" (optional), q4 single choice "visit reason" (optional), q5 text shown only
    when q1 is 0–6 (optional)."""
    survey = SurveyFactory(**kwargs)
    nps = QuestionFactory(
        survey=survey,
        position=1,
        type=QuestionType.NPS,
        measure=Measure.NPS,
        text_en="How likely are you to recommend us to a friend?",
        text_zh_hans="您向朋友推荐我们的可能性有多大？",
    )
    QuestionFactory(survey=survey, position=2, type=QuestionType.RATING, text_en="Staff?")
    QuestionFactory(
        survey=survey, position=3, type=QuestionType.YES_NO, required=False, text_en="Found it?"
    )
    reason = QuestionFactory(
        survey=survey,
        position=4,
        type=QuestionType.SINGLE_CHOICE,
        required=False,
        text_en="Why did you visit?",
    )
    ChoiceFactory(question=reason, position=1, value="shopping", label_en="Shopping")
    ChoiceFactory(question=reason, position=2, value="returns", label_en="Returns")
    QuestionFactory(
        survey=survey,
        position=5,
        type=QuestionType.TEXT,
        required=False,
        text_en="What went wrong?",
        show_if_question=nps,
        show_if_values=[str(n) for n in range(7)],
    )
    return survey


def questions(survey: Survey) -> list[Question]:
    return list(survey.questions.order_by("position", "id"))


def consent_surveys(customer, *channels: str, granted: bool = True) -> None:
    """Record the customer's answer for purpose ``surveys`` on the channels (default e-mail and
    portal)."""
    for channel in channels or (Channel.EMAIL, Channel.PORTAL):
        ConsentRecord.objects.create(
            customer=customer,
            channel=channel,
            purpose=ConsentPurpose.SURVEYS,
            granted=granted,
            source="test",
            at=timezone.now() - dt.timedelta(minutes=1),
        )
