"""Exactly once through the API under real concurrency on PostgreSQL (invariant 2)."""

import threading
from decimal import Decimal

import pytest
from django.db import connection
from django.urls import reverse

from apps.accounts.services import api_key_create
from apps.core.models import IdempotencyKey
from apps.customers.models import Customer, Order, Refund
from apps.loyalty.enums import TxKind
from apps.loyalty.models import LoyaltyAccount, PointsTransaction
from apps.loyalty.verification import ledger_faults
from tests.conftest import api_client, client_for

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ORDERS = reverse("api:order-create")


def run_concurrently(n: int, request) -> list:
    """Call ``request(client)`` from n threads at once, each with its own APIClient (and so
    its own database connection); returns the responses."""
    raw = api_key_create(name="Till")[1]
    barrier = threading.Barrier(n)
    responses, errors = [], []

    def run():
        client = client_for(raw)
        try:
            barrier.wait()
            responses.append(request(client))
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
    assert len(responses) == n
    return responses


FIRST = {"external_id": "POS-1", "points_earned": 250, "points_pending": 0, "balance": 250}


def test_20_identical_orders_with_one_key_make_one_order(order_body):
    """The unique (scope, key) row serialises the twins: one runs the order (201), the others
    either see it running (409 idempotency_conflict) or get its stored 201 replayed. None of
    them reaches the order service, so none can answer 200 "already recorded"."""
    responses = run_concurrently(
        20,
        lambda c: c.post(ORDERS, order_body, format="json", HTTP_IDEMPOTENCY_KEY="pos-1"),
    )
    originals = [
        r for r in responses if r.status_code == 201 and not r.has_header("Idempotent-Replayed")
    ]
    replays = [r for r in responses if r.status_code == 201 and r.has_header("Idempotent-Replayed")]
    conflicts = [r for r in responses if r.status_code == 409]
    assert len(originals) == 1
    assert len(originals) + len(replays) + len(conflicts) == 20
    assert {r.json()["code"] for r in conflicts} <= {"idempotency_conflict"}
    assert all(r.content == originals[0].content for r in replays)
    assert originals[0].json() == {**FIRST, "tier": None}
    assert Order.objects.count() == 1
    assert PointsTransaction.objects.filter(kind=TxKind.EARN).count() == 1
    assert LoyaltyAccount.objects.get().balance == 250
    row = IdempotencyKey.objects.get()
    assert (row.state, row.response_status) == ("done", 201)


def test_20_identical_orders_without_keys_make_one_order(order_body):
    responses = run_concurrently(20, lambda c: c.post(ORDERS, order_body, format="json"))
    assert sorted(r.status_code for r in responses) == [200] * 19 + [201]
    assert all(r.json() == {**FIRST, "tier": None} for r in responses)
    assert Order.objects.count() == 1
    assert PointsTransaction.objects.filter(kind=TxKind.EARN).count() == 1
    assert LoyaltyAccount.objects.get().balance == 250
    assert list(ledger_faults()) == []


def test_10_concurrent_refunds_of_20_percent_each_exactly_5_succeed(order_body):
    assert api_client("Setup").post(ORDERS, order_body, format="json").status_code == 201
    url = reverse("api:refund-create", args=["sh-01", "POS-1"])
    counter = iter(range(10))
    lock = threading.Lock()

    def refund(client):
        with lock:
            n = next(counter)
        return client.post(url, {"refund_id": f"R-{n}", "amount": "50.00"}, format="json")

    responses = run_concurrently(10, refund)
    assert sorted(r.status_code for r in responses) == [201] * 5 + [409] * 5
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"refund_exceeds_order"}
    order = Order.objects.get()
    assert (order.refunded_amount, order.status) == (Decimal("250.00"), "refunded")
    assert Refund.objects.count() == 5
    assert LoyaltyAccount.objects.get().balance == 0
    assert list(ledger_faults()) == []


def test_one_contact_enrolled_by_8_tills_at_once_is_one_member(store):
    """Issue 8: the already-enrolled check runs in the enrolling transaction under a lock on
    the contact, so simultaneous enrolments of one e-mail make one member and 409s."""
    body = {"email": "twin@example.org", "first_name": "Twin"}
    responses = run_concurrently(
        8, lambda c: c.post(reverse("api:customer-list"), body, format="json")
    )
    codes = sorted(r.status_code for r in responses)
    assert codes == [201] + [409] * 7
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"already_enrolled"}

    assert Customer.objects.filter(email="twin@example.org").count() == 1
