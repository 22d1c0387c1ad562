import uuid

import pytest

from apps.complaints.enums import Priority, TicketChannel
from apps.complaints.models import ComplaintSettings, Ticket
from apps.complaints.services.follow_up import on_survey_response_completed
from apps.core.events import Event
from tests.surveys.factories import SurveyFactory

pytestmark = pytest.mark.django_db


def _event(survey, customer, group="detractor", score=3, response_id=41):
    return Event(
        id=str(uuid.uuid4()),
        name="survey.response_completed",
        payload={
            "response_id": response_id,
            "survey_id": survey.pk,
            "customer_id": customer.pk if customer else None,
            "score_group": group,
            "nps_score": score,
        },
    )


@pytest.fixture
def follow_up_settings(category, policy):
    settings = ComplaintSettings.get()
    settings.follow_up_category = category
    settings.save()
    return settings


def test_a_detractor_gets_one_follow_up_ticket(customer, follow_up_settings, category):
    survey = SurveyFactory(follow_up_detractors=True)
    ticket = on_survey_response_completed(_event(survey, customer))
    again = on_survey_response_completed(_event(survey, customer))
    assert ticket.pk == again.pk and Ticket.objects.count() == 1
    assert ticket.channel == TicketChannel.SURVEY and ticket.priority == Priority.HIGH
    assert ticket.category == category and ticket.sla_policy is not None
    assert ticket.source_ref == "survey-response:41"


@pytest.mark.parametrize(
    ("group", "flag", "has_customer"),
    [("promoter", True, True), ("detractor", False, True), ("detractor", True, False)],
)
def test_no_follow_up_otherwise(customer, follow_up_settings, group, flag, has_customer):
    survey = SurveyFactory(follow_up_detractors=flag)
    assert (
        on_survey_response_completed(
            _event(survey, customer if has_customer else None, group=group)
        )
        is None
    )
    assert not Ticket.objects.exists()
