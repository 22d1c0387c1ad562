"""Redemptions through the API under real concurrency on PostgreSQL (invariants 2 and 3)."""

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.core.models import IdempotencyKey
from apps.loyalty.models import LoyaltyAccount, PointsTransaction, Redemption, Reward
from apps.loyalty.services import order_ingest
from apps.loyalty.verification import ledger_faults
from tests.api.test_concurrency import run_concurrently
from tests.customers.factories import CustomerFactory, StoreFactory
from tests.loyalty.factories import ProgrammeFactory, RewardFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

REDEMPTIONS = reverse("api:redemption-create")


@pytest.fixture
def customer_with_points():
    ProgrammeFactory(pending_days=14)
    customer = CustomerFactory()
    order_ingest(
        store=StoreFactory(code="sh-01"),
        external_id="POS-1",
        customer=customer,
        placed_at=timezone.now() - dt.timedelta(days=30),
        total=Decimal("1000.00"),
    )
    return customer


def test_10_threads_with_one_key_redeem_once(customer_with_points):
    RewardFactory(slug="mug", cost_points=300, stock=5)
    body = {"member_number": customer_with_points.member_number, "reward": "mug", "quantity": 1}
    responses = run_concurrently(
        10,
        lambda c: c.post(REDEMPTIONS, body, format="json", HTTP_IDEMPOTENCY_KEY="till-1-r-1"),
    )
    originals = [
        r for r in responses if r.status_code == 201 and not r.has_header("Idempotent-Replayed")
    ]
    replays = [r for r in responses if r.status_code == 201 and r.has_header("Idempotent-Replayed")]
    conflicts = [r for r in responses if r.status_code == 409]
    assert len(originals) == 1
    assert len(originals) + len(replays) + len(conflicts) == 10
    assert {r.json()["code"] for r in conflicts} <= {"idempotency_conflict"}
    assert all(r.content == originals[0].content for r in replays)
    assert originals[0].json()["points_spent"] == 300 and originals[0].json()["balance"] == 700
    assert Redemption.objects.count() == 1
    assert PointsTransaction.objects.filter(kind="redeem").count() == 1
    assert LoyaltyAccount.objects.get().balance == 700
    assert Reward.objects.get().stock == 4
    assert IdempotencyKey.objects.get().state == "done"
    assert list(ledger_faults()) == []


def test_10_threads_with_distinct_keys_stop_at_the_balance(customer_with_points):
    RewardFactory(slug="mug", cost_points=300)
    body = {"member_number": customer_with_points.member_number, "reward": "mug", "quantity": 1}
    counter = iter(range(10))
    keys = {}

    def post(client):
        n = keys.setdefault(id(client), next(counter))
        return client.post(REDEMPTIONS, body, format="json", HTTP_IDEMPOTENCY_KEY=f"k-{n}")

    responses = run_concurrently(10, post)
    assert sorted(r.status_code for r in responses) == [201] * 3 + [409] * 7
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"insufficient_points"}
    assert Redemption.objects.count() == 3
    assert LoyaltyAccount.objects.get().balance == 100
    assert list(ledger_faults()) == []
