"""Authentication and the error envelope: every error is {"code", "message"}."""

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse
from rest_framework.test import APIClient

from apps.accounts.services import api_key_revoke
from apps.api.errors import exception_handler
from apps.customers.models import Customer, Order
from tests.api.conftest import client_for

pytestmark = pytest.mark.django_db

LIST = reverse("api:customer-list")


def test_missing_key_is_401_not_authenticated(customer):
    response = APIClient().get(LIST)
    assert response.status_code == 401
    assert response.json() == {
        "code": "not_authenticated",
        "message": "Authentication credentials were not provided.",
    }
    assert response["WWW-Authenticate"] == "Api-Key"


def test_unknown_key_is_401_authentication_failed(api_key):
    response = client_for("clt_nope_nope").get(LIST)
    assert response.status_code == 401
    assert response.json() == {
        "code": "authentication_failed",
        "message": "Unknown or revoked API key.",
    }


def test_revoked_key_is_401_and_changes_nothing(api_key, store):
    key, raw = api_key
    api_key_revoke(key=key)
    response = client_for(raw).post(
        LIST, {"first_name": "A", "email": "a@example.org"}, format="json"
    )
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"
    assert Customer.objects.count() == 0


def test_other_scheme_is_401(api_key):
    response = APIClient(HTTP_AUTHORIZATION=f"Bearer {api_key[1]}").get(LIST)
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_valid_key_is_accepted_and_touched(api, api_key):
    assert api.get(LIST).status_code == 200
    api_key[0].refresh_from_db()
    assert api_key[0].last_used_at is not None


def test_malformed_json_is_400_parse_error_and_changes_nothing(api, customer):
    response = api.generic(
        "POST", reverse("api:order-create"), '{"external_id": "A-1",', "application/json"
    )
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "parse_error"
    assert body["message"].startswith("JSON parse error")
    assert Order.objects.count() == 0


def test_malformed_json_with_idempotency_key_is_400_and_claims_nothing(api, customer):
    from apps.core.models import IdempotencyKey

    response = api.generic(
        "POST", reverse("api:order-create"), "{nope", "application/json", HTTP_IDEMPOTENCY_KEY="k"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"
    assert IdempotencyKey.objects.count() == 0


def test_wrong_content_type_is_415(api, customer):
    response = api.generic("POST", reverse("api:order-create"), "a=b", "text/plain")
    assert response.status_code == 415
    assert response.json() == {
        "code": "unsupported_media_type",
        "message": 'Unsupported media type "text/plain" in request.',
    }


def test_wrong_method_is_405(api, customer):
    response = api.delete(reverse("api:customer-detail", args=[customer.member_number]))
    assert response.status_code == 405
    assert response.json() == {
        "code": "method_not_allowed",
        "message": 'Method "DELETE" not allowed.',
    }
    assert Customer.objects.filter(pk=customer.pk).exists()


def test_unknown_member_is_404_customer_not_found(api):
    response = api.get(reverse("api:customer-detail", args=["0000000000"]))
    assert response.status_code == 404
    assert response.json() == {
        "code": "customer_not_found",
        "message": "No customer with that member number.",
    }


def test_permission_denied_is_403_with_the_envelope():
    response = exception_handler(PermissionDenied(), {})
    assert response.status_code == 403
    assert response.data == {
        "code": "permission_denied",
        "message": "You do not have permission to perform this action.",
    }


def test_validation_error_names_the_field(api, store):
    response = api.post(LIST, {"email": "not-an-email"}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "validation_error"
    assert body["message"] == "email: Enter a valid email address."
    assert Customer.objects.count() == 0
