"""``POST /api/v1/customers/{member_number}/events/``: event-based bonus points, once per
(customer, event, reference)."""

import hashlib

import pytest
import yaml
from django.urls import reverse
from rest_framework.test import APIClient

from apps.loyalty.models import LoyaltyAccount, PointsTransaction
from tests.loyalty.factories import EarnRuleFactory, ProgrammeFactory

pytestmark = pytest.mark.django_db


def events_url(member_number: str = "1234567897") -> str:
    return reverse("api:customer-events", args=[member_number])


@pytest.fixture
def programme(db):
    ProgrammeFactory()
    EarnRuleFactory(
        kind="event", event="profile_completed", multiplier=1, bonus_points=150, name="Profile"
    )


def test_an_event_with_a_rule_awards_its_bonus(api, customer, programme):
    response = api.post(
        events_url(), {"event": "profile_completed", "reference": "web-42"}, format="json"
    )
    assert response.status_code == 201, response.content
    assert response.json() == {
        "event": "profile_completed",
        "reference": "web-42",
        "points_awarded": 150,
        "balance": 150,
    }
    tx = PointsTransaction.objects.get()
    digest = hashlib.sha256(b"web-42").hexdigest()[:32]
    assert tx.idempotency_key == f"event:profile_completed:{customer.pk}:{digest}"
    assert "web-42" not in tx.source_ref  # the raw reference never enters the ledger


def test_the_same_event_and_reference_again_answers_200_and_awards_nothing_more(
    api, customer, programme
):
    body = {"event": "profile_completed", "reference": "web-42"}
    first = api.post(events_url(), body, format="json")
    again = api.post(events_url(), body, format="json")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert LoyaltyAccount.objects.get(customer=customer).balance == 150
    assert PointsTransaction.objects.count() == 1


def test_an_idempotency_key_replays_the_first_response(api, customer, programme):
    body = {"event": "profile_completed", "reference": "web-42"}
    first = api.post(events_url(), body, format="json", HTTP_IDEMPOTENCY_KEY="ev-1")
    replay = api.post(events_url(), body, format="json", HTTP_IDEMPOTENCY_KEY="ev-1")
    assert first.status_code == replay.status_code == 201
    assert replay.content == first.content and replay["Idempotent-Replayed"] == "true"
    assert PointsTransaction.objects.count() == 1


def test_an_event_without_an_active_rule_awards_nothing(api, customer, programme):
    response = api.post(
        events_url(), {"event": "app_installed", "reference": "ios-1"}, format="json"
    )
    assert response.status_code == 200
    assert response.json() == {
        "event": "app_installed",
        "reference": "ios-1",
        "points_awarded": 0,
        "balance": 0,
    }
    assert not PointsTransaction.objects.exists()


def test_an_unknown_event_is_a_validation_error(api, customer, programme):
    response = api.post(events_url(), {"event": "moon_landing", "reference": "x"}, format="json")
    assert response.status_code == 400
    assert response.json() == {
        "code": "validation_error",
        "message": 'event: "moon_landing" is not a valid choice.',
        "errors": {"event": ['"moon_landing" is not a valid choice.']},
    }
    assert not PointsTransaction.objects.exists()


def test_a_missing_reference_is_a_validation_error(api, customer, programme):
    response = api.post(events_url(), {"event": "profile_completed"}, format="json")
    assert response.status_code == 400
    assert response.json() == {
        "code": "validation_error",
        "message": "reference: This field is required.",
        "errors": {"reference": ["This field is required."]},
    }
    assert not PointsTransaction.objects.exists()


def test_an_unknown_member_is_404(api, customer, programme):
    response = api.post(
        events_url("0000000000"), {"event": "profile_completed", "reference": "x"}, format="json"
    )
    assert response.status_code == 404
    assert response.json() == {
        "code": "customer_not_found",
        "message": "No customer with that member number.",
    }
    assert not PointsTransaction.objects.exists()


def test_the_endpoint_needs_an_api_key(customer, programme):
    response = APIClient().post(
        events_url(), {"event": "profile_completed", "reference": "x"}, format="json"
    )
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert not PointsTransaction.objects.exists()


def test_the_endpoint_is_documented():
    schema = yaml.safe_load(APIClient().get(reverse("api:schema")).content)
    post = schema["paths"]["/api/v1/customers/{member_number}/events/"]["post"]
    assert set(post["responses"]) == {
        *("200", "201", "400", "401", "403", "404", "409", "415", "422", "429")
    }
    assert {p["name"] for p in post["parameters"]} == {"member_number", "Idempotency-Key"}
    assert schema["components"]["schemas"]["EarnEvent"]["enum"] == [
        "profile_completed",
        "app_installed",
        "review_posted",
        "survey_completed",
    ]
