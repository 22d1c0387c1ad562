"""The surveys admin is view-only: pages load for an Administrator, nothing can be added,
changed or deleted there (edits go through the builder's services and their meaning lock)."""

import pytest
from django.urls import reverse

from apps.surveys.models import Invitation, Response, Survey
from apps.surveys.services.responses import response_submit
from tests.surveys.factories import InvitationFactory, nps_survey, questions

pytestmark = pytest.mark.django_db


@pytest.fixture
def answered():
    survey = nps_survey(slug="store-visit", title_en="Store visit")
    invitation = InvitationFactory(survey=survey)
    q = questions(survey)
    response_submit(
        invitation=invitation,
        answers={str(q[0].pk): "3", str(q[1].pk): "2", str(q[4].pk): "Slow tills"},
    )
    return invitation


@pytest.mark.parametrize("model", [Survey, Invitation, Response])
def test_lists_and_details_load_for_an_administrator(client, administrator, answered, model):
    client.force_login(administrator)
    obj = model.objects.first()
    name = f"admin:surveys_{model._meta.model_name}"
    listing = client.get(reverse(f"{name}_changelist"))
    assert listing.status_code == 200
    detail = client.get(reverse(f"{name}_change", args=[obj.pk]))
    assert detail.status_code == 200
    assert b'name="_save"' not in detail.content  # view only


def test_search_by_member_slug_and_token_prefix(client, administrator, answered):
    client.force_login(administrator)
    url = reverse("admin:surveys_invitation_changelist")
    for query in (answered.customer.member_number, "store-visit", answered.token[:8]):
        response = client.get(url, {"q": query})
        assert response.status_code == 200
        assert response.context["cl"].result_count == 1, query
    assert answered.token not in client.get(url).content.decode()  # the secret is not shown
    url = reverse("admin:surveys_response_changelist")
    assert client.get(url, {"q": "store-visit"}).context["cl"].result_count == 1
    url = reverse("admin:surveys_survey_changelist")
    assert client.get(url, {"q": "Store visit"}).context["cl"].result_count == 1


@pytest.mark.parametrize("model", [Survey, Invitation, Response])
def test_add_change_and_delete_are_refused(client, administrator, answered, model):
    client.force_login(administrator)
    obj = model.objects.first()
    name = f"admin:surveys_{model._meta.model_name}"
    assert client.get(reverse(f"{name}_add")).status_code == 403
    before = model.objects.count()
    change = client.post(reverse(f"{name}_change", args=[obj.pk]), {"status": "closed"})
    assert change.status_code == 403
    delete = client.post(reverse(f"{name}_delete", args=[obj.pk]), {"post": "yes"})
    assert delete.status_code == 403
    assert model.objects.count() == before
    assert Survey.objects.get().status == "live"


def test_other_staff_are_kept_out(client, marketer):
    client.force_login(marketer)
    assert client.get(reverse("admin:surveys_survey_changelist")).status_code == 403
