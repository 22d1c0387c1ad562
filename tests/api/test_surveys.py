"""``POST /api/v1/surveys/{slug}/invitations/``: receipt links for tills (DESIGN §6)."""

import pytest
from django.urls import reverse
from django.utils import translation
from rest_framework import serializers
from rest_framework.test import APIClient

from apps.core.models import IdempotencyKey
from apps.customers.services import customer_merge
from apps.surveys.enums import InvitationChannel, InvitationStatus, SkipReason, SurveyStatus
from apps.surveys.models import Invitation
from apps.surveys.services.invitations import survey_link
from tests.customers.factories import CustomerFactory, OrderFactory, StoreFactory
from tests.loyalty.factories import ProgrammeFactory
from tests.surveys.factories import InvitationFactory, nps_survey

pytestmark = pytest.mark.django_db


def url(slug: str = "till-nps") -> str:
    return reverse("api:survey-invitation-create", args=[slug])


@pytest.fixture
def survey(db):
    ProgrammeFactory()
    return nps_survey(slug="till-nps", valid_days=14)


@pytest.fixture
def order(customer, store):
    return OrderFactory(customer=customer, store=store, external_id="POS-9")


def _invitation_for(response) -> Invitation:
    token = response.json()["url"].rstrip("/").rsplit("/", 1)[1]
    return Invitation.objects.get(token=token)


def test_anonymous_receipt_link(api, survey):
    response = api.post(url(), {}, format="json")

    assert response.status_code == 201, response.content
    invitation = _invitation_for(response)
    assert set(response.json()) == {"url", "token_expires_at"}
    assert response.json()["url"] == survey_link(invitation.token)
    assert invitation.customer_id is None and invitation.order_id is None
    assert invitation.channel == InvitationChannel.RECEIPT
    assert invitation.status == InvitationStatus.SENT
    assert (invitation.expires_at - invitation.sent_at).days == 14
    # Every anonymous receipt is its own link.
    assert api.post(url(), {}, format="json").json()["url"] != response.json()["url"]


def test_expiry_is_the_links_expiry(api, survey, store):
    response = api.post(url(), {"store": "sh-01"}, format="json")
    invitation = _invitation_for(response)
    expected = serializers.DateTimeField().to_representation(invitation.expires_at)
    assert response.json()["token_expires_at"] == expected
    assert invitation.store.code == "sh-01"


def test_member_and_order_link_and_reprint_gives_the_same_link(api, survey, order, customer):
    body = {"member_number": "1234567897", "order_external_id": "POS-9", "store": "sh-01"}

    first = api.post(url(), body, format="json")
    again = api.post(url(), body, format="json")

    assert first.status_code == 201 and again.status_code == 200, again.content
    assert again.json() == first.json()
    invitation = Invitation.objects.get()
    assert (invitation.customer, invitation.order, invitation.context) == (
        customer,
        order,
        f"order:{order.pk}",
    )


def test_order_alone_invites_its_member(api, survey, order, customer):
    response = api.post(url(), {"order_external_id": "POS-9", "store": "sh-01"}, format="json")
    assert response.status_code == 201
    assert _invitation_for(response).customer == customer


def test_member_alone_gets_a_link(api, survey, customer):
    response = api.post(url(), {"member_number": "1234567897"}, format="json")
    assert response.status_code == 201
    assert _invitation_for(response).customer == customer


def test_merged_member_number_invites_the_survivor(api, survey, customer, manager):
    survivor = CustomerFactory(member_number="5555555555", email="", phone="+8613700000000")
    customer_merge(source=customer, target=survivor, actor=manager, reason="Same person")

    response = api.post(url(), {"member_number": "1234567897"}, format="json")

    assert response.status_code == 201, response.content
    assert _invitation_for(response).customer == survivor


def test_member_asked_within_the_cooldown_is_not_eligible_and_only_the_skip_is_recorded(
    api, survey, customer, order
):
    InvitationFactory(customer=customer)  # asked a moment ago, another survey
    body = {"member_number": "1234567897", "order_external_id": "POS-9", "store": "sh-01"}

    response = api.post(url(), body, format="json")

    assert response.status_code == 409
    assert response.json() == {"code": "not_eligible", "message": "Asked too recently"}
    skip = Invitation.objects.get(survey=survey)
    assert (skip.status, skip.skip_reason, skip.order) == (
        InvitationStatus.SKIPPED,
        SkipReason.COOLDOWN,
        order,
    )
    # A reprint of the same order is refused the same way and writes nothing more.
    assert api.post(url(), body, format="json").status_code == 409
    assert Invitation.objects.filter(survey=survey).count() == 1


def test_not_eligible_message_follows_accept_language(api, survey, customer):
    InvitationFactory(customer=customer)

    response = api.post(
        url(), {"member_number": "1234567897"}, format="json", HTTP_ACCEPT_LANGUAGE="zh-hans"
    )

    assert response.status_code == 409
    with translation.override("zh-hans"):
        assert response.json()["message"] == str(SkipReason.COOLDOWN.label)


def test_unknown_member_message_follows_accept_language(api, survey):
    english = api.post(url(), {"member_number": "0000000000"}, format="json")
    chinese = api.post(
        url(), {"member_number": "0000000000"}, format="json", HTTP_ACCEPT_LANGUAGE="zh-hans"
    )
    assert english.status_code == chinese.status_code == 404
    assert english.json()["code"] == chinese.json()["code"] == "customer_not_found"
    assert english.json()["message"] != chinese.json()["message"]


@pytest.mark.parametrize(
    ("slug", "body", "status", "code"),
    [
        ("no-such-survey", {}, 404, "not_found"),
        ("till-nps", {"member_number": "0000000000"}, 404, "customer_not_found"),
        ("till-nps", {"store": "nowhere"}, 404, "store_not_found"),
        ("till-nps", {"order_external_id": "NOPE", "store": "sh-01"}, 404, "order_not_found"),
        ("till-nps", {"order_external_id": "POS-9"}, 400, "validation_error"),
        ("till-nps", {"member_number": 1234567897}, 400, "validation_error"),
        ("till-nps", {"store": "sh 01"}, 400, "validation_error"),
    ],
)
def test_refusals_change_nothing(api, survey, order, slug, body, status, code):
    response = api.post(url(slug), body, format="json")

    assert response.status_code == status, response.content
    assert response.json()["code"] == code and response.json()["message"]
    assert not Invitation.objects.exists()


def test_order_without_store_names_the_store_field(api, survey, order):
    response = api.post(url(), {"order_external_id": "POS-9"}, format="json")
    assert list(response.json()["errors"]) == ["store"]


def test_order_of_another_member_is_a_conflict(api, survey, order):
    CustomerFactory(member_number="9876543217")
    body = {"member_number": "9876543217", "order_external_id": "POS-9", "store": "sh-01"}

    response = api.post(url(), body, format="json")

    assert response.status_code == 409
    assert response.json()["code"] == "order_member_mismatch"
    assert not Invitation.objects.exists()


def test_order_of_the_same_store_code_elsewhere_is_not_found(api, survey, order):
    StoreFactory(code="bj-01")
    response = api.post(url(), {"order_external_id": "POS-9", "store": "bj-01"}, format="json")
    assert response.json()["code"] == "order_not_found"


@pytest.mark.parametrize("status", [SurveyStatus.DRAFT, SurveyStatus.PAUSED, SurveyStatus.CLOSED])
def test_survey_not_live_is_closed_and_changes_nothing(api, survey, customer, status):
    survey.status = status
    survey.save(update_fields=["status"])

    response = api.post(url(), {"member_number": "1234567897"}, format="json")

    assert response.status_code == 409
    assert response.json()["code"] == "survey_closed"
    assert not Invitation.objects.exists()


def test_idempotency_key_replays_the_first_link(api, survey):
    first = api.post(url(), {}, format="json", HTTP_IDEMPOTENCY_KEY="receipt-1")
    replay = api.post(url(), {}, format="json", HTTP_IDEMPOTENCY_KEY="receipt-1")
    other = api.post(url(), {"store": "sh-01"}, format="json", HTTP_IDEMPOTENCY_KEY="receipt-1")

    assert first.status_code == replay.status_code == 201
    assert replay.json() == first.json() and replay["Idempotent-Replayed"] == "true"
    assert other.status_code == 422
    assert Invitation.objects.count() == 1 and IdempotencyKey.objects.count() == 1


def test_needs_an_api_key(survey):
    response = APIClient().post(url(), {}, format="json")
    assert response.status_code == 401
    assert not Invitation.objects.exists()
