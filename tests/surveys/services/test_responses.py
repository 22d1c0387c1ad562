import pytest
from django.utils import timezone

from apps.loyalty.models import PointsTransaction
from apps.surveys.enums import ScoreGroup, SurveyStatus
from apps.surveys.exceptions import (
    AlreadyAnswered,
    AnswersInvalid,
    InvitationExpired,
    SurveyNotOpen,
)
from apps.surveys.models import Answer, Response
from apps.surveys.services.responses import response_submit
from tests.surveys.factories import InvitationFactory, nps_survey, questions

pytestmark = pytest.mark.django_db


def _answers(survey, nps=9, staff=4, **extra):
    q = questions(survey)
    data = {str(q[0].pk): str(nps), str(q[1].pk): str(staff)}
    data.update({str(q[i].pk): v for i, v in extra.items()})
    return data


def test_submit_stores_answers_scores_and_group():
    survey = nps_survey()
    invitation = InvitationFactory(survey=survey)
    response = response_submit(invitation=invitation, answers=_answers(survey, nps=3, staff=2))
    assert response.nps_score == 3 and response.score_group == ScoreGroup.DETRACTOR
    assert response.customer_id == invitation.customer_id
    assert Answer.objects.filter(response=response).count() == 2
    invitation.refresh_from_db()
    assert invitation.completed_at is not None and invitation.opened_at is not None


def test_answer_to_hidden_question_is_dropped_and_shown_one_kept():
    survey = nps_survey()
    q = questions(survey)
    promoter = response_submit(
        invitation=InvitationFactory(survey=survey),
        answers={**_answers(survey, nps=10), str(q[4].pk): "hidden"},
    )
    assert not promoter.answers.filter(question=q[4]).exists()
    detractor = response_submit(
        invitation=InvitationFactory(survey=survey),
        answers={**_answers(survey, nps=2), str(q[4].pk): "Too slow"},
    )
    assert detractor.answers.get(question=q[4]).text == "Too slow"


def test_missing_required_and_out_of_range_are_refused_and_nothing_written():
    survey = nps_survey()
    q = questions(survey)
    invitation = InvitationFactory(survey=survey)
    with pytest.raises(AnswersInvalid) as caught:
        response_submit(invitation=invitation, answers={str(q[0].pk): "11", str(q[3].pk): "x"})
    assert set(caught.value.errors) == {q[0].pk, q[1].pk, q[3].pk}
    assert Response.objects.count() == 0
    invitation.refresh_from_db()
    assert invitation.completed_at is None


def test_second_submission_closed_survey_and_expired_link_are_refused():
    survey = nps_survey()
    invitation = InvitationFactory(survey=survey)
    response_submit(invitation=invitation, answers=_answers(survey))
    with pytest.raises(AlreadyAnswered):
        response_submit(invitation=invitation, answers=_answers(survey))
    expired = InvitationFactory(survey=survey, expires_at=timezone.now())
    with pytest.raises(InvitationExpired):
        response_submit(invitation=expired, answers=_answers(survey))
    survey.status = SurveyStatus.CLOSED
    survey.save()
    with pytest.raises(SurveyNotOpen):
        response_submit(invitation=InvitationFactory(survey=survey), answers=_answers(survey))
    assert Response.objects.count() == 1


def test_reward_points_paid_once_per_response():
    survey = nps_survey(reward_points=50)
    invitation = InvitationFactory(survey=survey)
    response = response_submit(invitation=invitation, answers=_answers(survey))
    assert response.reward_points == 50
    rows = PointsTransaction.objects.filter(account__customer=invitation.customer)
    assert [r.points for r in rows] == [50]


def test_anonymous_survey_keeps_no_link_to_the_person():
    survey = nps_survey(anonymous=True, reward_points=20)
    invitation = InvitationFactory(survey=survey)
    customer = invitation.customer
    response = response_submit(invitation=invitation, answers=_answers(survey))
    invitation.refresh_from_db()
    assert response.customer_id is None and invitation.customer_id is None
    assert PointsTransaction.objects.filter(account__customer=customer).count() == 1
