"""Surveys on the staff 360° page: the member's responses with their scores, NPS history and open
invitations; written answers only for staff allowed to read them; a fixed number of queries;
and the customer timeline."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.core.timeline import timeline_for
from apps.surveys.member_selectors import member_surveys
from apps.surveys.services.responses import response_submit
from tests.customers.factories import CustomerFactory
from tests.surveys.factories import InvitationFactory, nps_survey, questions

pytestmark = pytest.mark.django_db

WORDS = "The cashier Zhang was rude"


def _respond(customer, survey, nps, *, days_ago=0, text=WORDS):
    invitation = InvitationFactory(survey=survey, customer=customer)
    q = questions(survey)
    answers = {str(q[0].pk): str(nps), str(q[1].pk): "3", str(q[3].pk): "returns"}
    if nps <= 6:
        answers[str(q[4].pk)] = text
    return response_submit(
        invitation=invitation,
        answers=answers,
        at=timezone.now() - dt.timedelta(days=days_ago),
    )


@pytest.fixture
def history():
    customer = CustomerFactory()
    survey = nps_survey(title_en="Store visit")
    _respond(customer, survey, 10, days_ago=40)
    _respond(customer, survey, 8, days_ago=20)
    _respond(customer, survey, 3, days_ago=1)
    InvitationFactory(survey=survey, customer=customer, context="order:99")  # still open
    return customer


def _page(client, user, customer):
    client.force_login(user)
    # The Surveys tab of the 360° page, as the page reads it when the tab is first shown.
    return client.get(reverse("dashboard:customer-panel", args=[customer.member_number, "surveys"]))


def test_agent_sees_scores_history_and_open_invitations_but_not_the_words(client, agent, history):
    response = _page(client, agent, history)
    html = response.content.decode()
    panel = response.context["member_surveys"]
    assert [p.score for p in panel.nps_history] == [10, 8, 3]
    assert len(panel.open_invitations) == 1
    assert "NPS 3 · Detractors" in html and "NPS 10 · Promoters" in html
    assert "Returns" in html  # a choice shows its label
    assert WORDS not in html and "hidden" in html


def test_marketer_reads_the_written_answers(client, marketer, history):
    html = _page(client, marketer, history).content.decode()
    assert WORDS in html


def test_panel_queries_do_not_grow_with_the_history(django_assert_num_queries):
    customer = CustomerFactory()
    survey = nps_survey()
    _respond(customer, survey, 9)
    with django_assert_num_queries(3) as one:
        member_surveys(customer=customer, show_text=True)
    for n in range(6):
        _respond(customer, survey, n)
    with django_assert_num_queries(len(one.captured_queries)):
        panel = member_surveys(customer=customer, show_text=True)
    assert len(panel.responses) == 7


def test_timeline_shows_invitations_and_responses(history):
    events = [e for e in timeline_for(history, limit=50) if e.kind == "survey"]
    titles = [e.title for e in events]
    assert sum("Answered" in t for t in titles) == 3
    assert sum("Invited" in t for t in titles) == 4
    answered = next(e for e in events if "Answered" in e.title)
    assert answered.detail.startswith("NPS 3")


def test_a_member_without_surveys_gets_an_empty_panel(client, agent):
    customer = CustomerFactory()
    response = _page(client, agent, customer)
    assert response.status_code == 200 and response.context["member_surveys"].is_empty
