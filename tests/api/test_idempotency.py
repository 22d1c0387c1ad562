"""The Idempotency-Key contract (DESIGN §6) on the v1 POST endpoints."""

import datetime as dt
from unittest import mock

import pytest
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from apps.core.exceptions import IdempotencyInProgress
from apps.core.idempotency import (
    idempotency_claim,
    idempotency_keys_purge,
    request_fingerprint,
)
from apps.core.models import IdempotencyKey
from apps.customers.models import Customer, Order
from tests.conftest import api_client

pytestmark = pytest.mark.django_db

ORDERS = reverse("api:order-create")
CUSTOMERS = reverse("api:customer-list")


def post(client, url, body, key):
    return client.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY=key)


def test_replay_returns_the_stored_first_response_byte_for_byte(api, store):
    body = {"first_name": "Li", "email": "li@example.org", "store": "sh-01"}
    first = post(api, CUSTOMERS, body, "enrol-1")
    replay = post(api, CUSTOMERS, dict(reversed(list(body.items()))), "enrol-1")
    assert first.status_code == replay.status_code == 201
    assert replay.content == first.content
    assert replay["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first
    assert replay["Content-Type"] == "application/json"
    assert Customer.objects.count() == 1
    row = IdempotencyKey.objects.get()
    assert (row.state, row.response_status) == ("done", 201)


def test_a_replay_is_not_a_repeat_order_result(api, order_body):
    first = post(api, ORDERS, order_body, "o-1")
    replay = post(api, ORDERS, order_body, "o-1")
    unkeyed = api.post(ORDERS, order_body, format="json")
    assert (first.status_code, replay.status_code, unkeyed.status_code) == (201, 201, 200)
    assert replay.content == first.content
    assert unkeyed.json() == first.json()
    assert Order.objects.count() == 1


def test_same_key_with_another_body_is_422_and_changes_nothing(api, order_body):
    post(api, ORDERS, order_body, "o-1")
    response = post(api, ORDERS, {**order_body, "external_id": "POS-2"}, "o-1")
    assert response.status_code == 422
    assert response.json() == {
        "code": "idempotency_key_reused",
        "message": "This Idempotency-Key was already used for a different request.",
    }
    assert Order.objects.count() == 1


def test_same_key_on_another_endpoint_is_422(api, order_body):
    post(api, ORDERS, order_body, "k")
    response = post(api, CUSTOMERS, {"email": "x@example.org"}, "k")
    assert response.status_code == 422
    assert Customer.objects.count() == 1  # the fixture's customer only


def _running_row(api_key, body, key="o-1", age=dt.timedelta(0), path=ORDERS):
    return IdempotencyKey.objects.create(
        scope=str(api_key[0].pk),
        key=key,
        request_hash=request_fingerprint(method="POST", path=path, body=body),
        state=IdempotencyKey.State.RUNNING,
        created_at=timezone.now() - age,
    )


def test_while_the_first_still_runs_a_twin_gets_409(api, api_key, order_body):
    _running_row(api_key, order_body)
    response = post(api, ORDERS, order_body, "o-1")
    assert response.status_code == 409
    assert response.json() == {
        "code": "idempotency_conflict",
        "message": "A request with this Idempotency-Key is still being processed; retry shortly.",
    }
    assert Order.objects.count() == 0
    assert IdempotencyKey.objects.get().state == "running"


@override_settings(IDEMPOTENCY_RUNNING_TIMEOUT_SECONDS=60)
def test_an_abandoned_running_key_is_taken_over(api, api_key, order_body):
    _running_row(api_key, order_body, age=dt.timedelta(seconds=61))
    response = post(api, ORDERS, order_body, "o-1")
    assert response.status_code == 201
    assert Order.objects.count() == 1
    row = IdempotencyKey.objects.get()
    assert (row.state, row.response_status) == ("done", 201)
    assert timezone.now() - row.created_at < dt.timedelta(seconds=10)


def test_an_abandoned_key_with_another_body_is_still_422(api, api_key, order_body):
    _running_row(api_key, {"other": 1}, age=dt.timedelta(hours=1))
    assert post(api, ORDERS, order_body, "o-1").status_code == 422
    assert Order.objects.count() == 0


def test_keys_are_scoped_per_api_key(api, order_body):
    other = api_client("Shop")
    first = post(api, ORDERS, order_body, "shared")
    second = post(other, ORDERS, {**order_body, "external_id": "POS-2"}, "shared")
    assert (first.status_code, second.status_code) == (201, 201)
    assert IdempotencyKey.objects.count() == 2 and Order.objects.count() == 2


def test_an_unexpected_failure_clears_the_key_so_a_retry_works(api, order_body):
    with mock.patch(
        "apps.api.views.orders.order_ingest", side_effect=RuntimeError("database went away")
    ):
        api.raise_request_exception = False
        failed = post(api, ORDERS, order_body, "o-1")
    assert failed.status_code == 500
    assert IdempotencyKey.objects.count() == 0
    assert Order.objects.count() == 0
    api.raise_request_exception = True
    retry = post(api, ORDERS, order_body, "o-1")
    assert retry.status_code == 201 and "Idempotent-Replayed" not in retry
    assert Order.objects.count() == 1


def test_a_5xx_response_clears_the_key(api, order_body):
    from rest_framework.exceptions import APIException

    class Unavailable(APIException):
        status_code = 503
        default_code = "unavailable"

    with mock.patch("apps.api.views.orders.order_ingest", side_effect=Unavailable("later")):
        failed = post(api, ORDERS, order_body, "o-1")
    assert failed.status_code == 503
    assert failed.json() == {"code": "unavailable", "message": "later"}
    assert IdempotencyKey.objects.count() == 0


def test_a_refusal_is_stored_and_replayed(api, order_body):
    body = {**order_body, "member_number": "0000000000"}
    first = post(api, ORDERS, body, "o-1")
    replay = post(api, ORDERS, body, "o-1")
    assert first.status_code == replay.status_code == 404
    assert replay.content == first.content and replay["Idempotent-Replayed"] == "true"


def test_a_validation_error_is_stored_and_replayed(api, order_body):
    body = {**order_body, "total": "-5"}
    first = post(api, ORDERS, body, "o-1")
    replay = post(api, ORDERS, body, "o-1")
    assert first.status_code == replay.status_code == 400
    assert replay.content == first.content


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("x" * 256, "Idempotency-Key: At most 255 characters."),
        ("   ", "Idempotency-Key: The key must not be blank."),
    ],
)
def test_an_invalid_key_is_400_and_changes_nothing(api, order_body, key, message):
    response = post(api, ORDERS, order_body, key)
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert response.json()["message"] == message
    assert Order.objects.count() == 0 and IdempotencyKey.objects.count() == 0


def test_a_key_of_255_characters_is_accepted(api, order_body):
    assert post(api, ORDERS, order_body, "x" * 255).status_code == 201


def test_refunds_honour_the_key(api, order_body):
    post(api, ORDERS, order_body, "o-1")
    url = reverse("api:refund-create", args=["sh-01", "POS-1"])
    first = post(api, url, {"refund_id": "R-1", "amount": "10.00"}, "r-1")
    replay = post(api, url, {"refund_id": "R-1", "amount": "10.00"}, "r-1")
    assert (first.status_code, replay.status_code) == (201, 201)
    assert replay.content == first.content and replay["Idempotent-Replayed"] == "true"


def test_the_fingerprint_ignores_key_order_and_spacing():
    a = request_fingerprint(method="post", path="/p/", body={"a": 1, "b": [1, {"c": "x"}]})
    b = request_fingerprint(method="POST", path="/p/", body={"b": [1, {"c": "x"}], "a": 1})
    assert a == b
    assert a != request_fingerprint(method="POST", path="/q/", body={"a": 1, "b": [1, {"c": "x"}]})
    assert a != request_fingerprint(method="POST", path="/p/", body={"a": 2, "b": [1, {"c": "x"}]})


def test_claim_of_a_running_key_raises_in_progress(db):
    idempotency_claim(scope="1", key="k", request_hash="h")
    with pytest.raises(IdempotencyInProgress):
        idempotency_claim(scope="1", key="k", request_hash="h")


@override_settings(IDEMPOTENCY_KEY_TTL_HOURS=24)
def test_purge_deletes_only_keys_older_than_the_ttl(db):
    now = timezone.now()
    for key, hours in (("old", 25), ("older", 48), ("fresh", 23)):
        IdempotencyKey.objects.create(
            scope="1",
            key=key,
            request_hash="h",
            state="done",
            created_at=now - dt.timedelta(hours=hours),
        )
    assert idempotency_keys_purge(now=now) == 2
    assert idempotency_keys_purge(now=now) == 0
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["fresh"]


def test_purge_task_runs_the_purge(db):
    from apps.api.tasks import idempotency_keys_purge_expired

    IdempotencyKey.objects.create(
        scope="1",
        key="old",
        request_hash="h",
        state="done",
        created_at=timezone.now() - dt.timedelta(days=3),
    )
    assert idempotency_keys_purge_expired.delay().get() == 1
    assert idempotency_keys_purge_expired.delay().get() == 0
    assert IdempotencyKey.objects.count() == 0
