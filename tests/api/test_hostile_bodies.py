"""Hostile bodies and cursors are 4xx with the envelope, never a 500 (issue 8, defect 7)."""

import base64
from urllib.parse import urlencode

import pytest
from django.urls import reverse
from rest_framework.exceptions import ParseError

from apps.api.parsers import json_shape_check
from apps.core.idempotency import request_fingerprint
from apps.core.models import AuditEvent, IdempotencyKey
from apps.customers.models import Customer

pytestmark = pytest.mark.django_db

CUSTOMERS = reverse("api:customer-list")
TRANSACTIONS = reverse("api:customer-points-transactions", args=["1234567897"])
TOO_DEEP = {"code": "parse_error", "message": "The JSON body is nested deeper than 32 levels."}
SURROGATE = {
    "code": "parse_error",
    "message": "The JSON body contains a lone surrogate, which is not text.",
}
INVALID_CURSOR = {"code": "not_found", "message": "Invalid cursor"}


def nested(levels: int) -> str:
    return '{"first_name": ' + "[" * levels + "]" * levels + ', "email": "a@example.org"}'


def unchanged() -> tuple:
    return (Customer.objects.count(), IdempotencyKey.objects.count(), AuditEvent.objects.count())


@pytest.mark.parametrize("levels", [1_000, 100_000])
def test_json_nested_too_deep_is_400_and_writes_nothing(api, store, levels):
    before = unchanged()
    response = api.post(
        CUSTOMERS, nested(levels), content_type="application/json", HTTP_IDEMPOTENCY_KEY="deep"
    )
    assert response.status_code == 400
    assert response.json() == TOO_DEEP
    assert unchanged() == before


def test_json_within_the_depth_limit_is_parsed():
    json_shape_check({"a": [[["x"]]]}, max_depth=4)
    with pytest.raises(ParseError):
        json_shape_check({"a": [[["x"]]]}, max_depth=3)


@pytest.mark.parametrize("key", ["surrogate-1", None])
def test_a_lone_surrogate_is_400_and_claims_no_key(api, store, key):
    before = unchanged()
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    body = '{"first_name": "Ann\\ud800", "email": "ann@example.org"}'
    response = api.post(CUSTOMERS, body, content_type="application/json", **headers)
    assert response.status_code == 400
    assert response.json() == SURROGATE
    assert unchanged() == before


def test_a_lone_surrogate_in_a_key_is_400(api, store):
    body = '{"first_name": "Ann", "\\udfff": 1, "email": "ann@example.org"}'
    response = api.post(CUSTOMERS, body, content_type="application/json")
    assert (response.status_code, response.json()) == (400, SURROGATE)


def test_a_surrogate_pair_is_text_and_accepted(api, store):
    body = '{"first_name": "Ann \\ud83d\\ude00", "email": "ann@example.org"}'
    response = api.post(
        CUSTOMERS, body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="emoji"
    )
    assert response.status_code == 201
    assert Customer.objects.get().first_name == "Ann \U0001f600"


def test_the_fingerprint_never_fails_on_a_surrogate():
    assert len(request_fingerprint(method="POST", path="/x/", body={"a": "\ud800"})) == 64


def cursor(query: str) -> str:
    return base64.b64encode(query.encode()).decode()


@pytest.mark.parametrize(
    "raw",
    [
        cursor("p=not-a-date"),
        cursor("p=2026-13-45 10:00:00"),
        cursor(urlencode({"p": "2026-01-01 10:00:00"})),  # naive: no offset
        cursor(urlencode({"p": "99999-01-01T00:00:00+00:00"})),
        cursor("p=a%00b"),
        cursor("o=-1"),
        cursor("r=x"),
        "%%%not-base64",
        "w6k=",  # base64 of non-ASCII bytes
    ],
)
@pytest.mark.parametrize("url", [CUSTOMERS, TRANSACTIONS])
def test_a_crafted_cursor_is_404_invalid_cursor(api, customer, url, raw):
    response = api.get(url, {"cursor": raw})
    assert response.status_code == 404
    assert response.json() == INVALID_CURSOR


def test_a_well_formed_cursor_still_pages(api, customer):
    raw = cursor(urlencode({"p": "2099-01-01 00:00:00+00:00"}))
    response = api.get(CUSTOMERS, {"cursor": raw})
    assert response.status_code == 200
    assert [row["member_number"] for row in response.json()["results"]] == ["1234567897"]


def test_a_body_above_the_upload_limit_is_413_with_the_envelope(api, store, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1_000
    before = unchanged()
    body = '{"first_name": "' + "x" * 2_000 + '", "email": "a@example.org"}'
    response = api.post(
        CUSTOMERS, body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="big"
    )
    assert response.status_code == 413
    assert response.json() == {
        "code": "request_too_large",
        "message": "The request body is larger than 1000 bytes.",
    }
    assert unchanged() == before


def test_a_large_body_elsewhere_is_still_refused(client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1_000
    response = client.post("/accounts/login/", {"login": "x" * 2_000, "password": "y"})
    assert response.status_code == 400
