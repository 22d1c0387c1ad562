"""Issue 8, defect 9: the API is rate-limited per key, and coupon checks per key and member,
with the ``{"code","message"}`` envelope and ``Retry-After``."""

import pytest
from django.urls import reverse
from rest_framework.throttling import SimpleRateThrottle

from apps.accounts.services import api_key_create
from tests.conftest import client_for

pytestmark = pytest.mark.django_db

VALIDATE = reverse("api:coupon-validate")


@pytest.fixture
def rates(monkeypatch):
    def set_rates(**rates):
        monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", rates)

    return set_rates


def _check(api, code="NOPE-NOPE", member=""):
    body = {"code": code, "order_total": "100.00"}
    if member:
        body["member_number"] = member
    return api.post(VALIDATE, body, format="json")


def test_coupon_guessing_is_limited_per_member_with_retry_after(api, customer, rates):
    rates(api_key="1000/minute", coupon_check="5/minute")
    answers = [_check(api, code=f"GUESS-{n:04d}", member=customer.member_number) for n in range(6)]
    assert [r.status_code for r in answers] == [200] * 5 + [429]
    refused = answers[-1]
    assert refused.json()["code"] == "throttled"
    assert refused.json()["message"].startswith("Request was throttled.")
    assert int(refused["Retry-After"]) > 0
    # Another member (or the anonymous check) has its own allowance.
    assert _check(api).status_code == 200


def test_every_request_counts_against_its_key(api, customer, rates):
    rates(api_key="3/minute", coupon_check="100/minute")
    url = reverse("api:customer-detail", args=[customer.member_number])
    assert [api.get(url).status_code for _ in range(4)] == [200, 200, 200, 429]
    # The limit is the key's: another key is not affected.
    _key, raw = api_key_create(name="Second till")
    assert client_for(raw).get(url).status_code == 200
