"""One survey link submitted at the same moment from many browsers stores one response and pays
the reward once (invariant 2), through the real view on PostgreSQL."""

import threading

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from apps.loyalty.models import PointsTransaction
from apps.surveys.models import Answer, Response
from tests.conftest import enrolled_member, roles_restore
from tests.surveys.factories import InvitationFactory, nps_survey, questions

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _restore_roles():
    yield
    roles_restore()  # the flush after this test empties the role groups later tests need


def test_simultaneous_submissions_store_one_response():
    _user, customer = enrolled_member("twin@test.local")
    survey = nps_survey(reward_points=50)
    invitation = InvitationFactory(survey=survey, customer=customer)
    q = questions(survey)
    url = reverse("portal:survey-answer", kwargs={"token": invitation.token})
    data = {f"q{q[0].pk}": "9", f"q{q[1].pk}": "4"}
    n = 6
    barrier = threading.Barrier(n)
    pages, errors = [], []

    def run():
        client = Client()
        try:
            barrier.wait()
            response = client.post(url, data)
            pages.append((response.status_code, response.content.decode()))
        except Exception as exc:  # collected and asserted below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert [code for code, _html in pages] == [200] * n
    thanks = [html for _c, html in pages if 'data-survey-state="thanks"' in html]
    answered = [html for _c, html in pages if 'data-survey-state="answered"' in html]
    assert len(thanks) == 1 and len(answered) == n - 1
    assert Response.objects.count() == 1 and Answer.objects.count() == 2
    rewards = PointsTransaction.objects.filter(account__customer=customer, points=50)
    assert rewards.count() == 1
