"""Exactly-once under real concurrency on PostgreSQL (invariant 2)."""

import datetime as dt
import threading
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from apps.loyalty.enums import TxKind
from apps.loyalty.models import LoyaltyAccount, PointsTransaction
from apps.loyalty.services import order_ingest, points_expire_due
from apps.loyalty.verification import ledger_faults
from tests.customers.factories import CustomerFactory, StoreFactory
from tests.loyalty.factories import ProgrammeFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _run_concurrently(n, target):
    barrier = threading.Barrier(n)
    results, errors = [], []

    def run(i):
        try:
            barrier.wait()
            results.append(target(i))
        except Exception as exc:  # collected and asserted below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results, errors


def test_the_same_order_posted_20_times_concurrently_earns_once():
    ProgrammeFactory()
    store, customer = StoreFactory(), CustomerFactory()
    placed = timezone.now() - dt.timedelta(days=30)

    def post(_i):
        _order, created, outcome = order_ingest(
            store=store,
            external_id="POS-1",
            customer=customer,
            placed_at=placed,
            total=Decimal("250.00"),
        )
        return created, outcome.points_earned

    results, errors = _run_concurrently(20, post)
    assert errors == []
    assert sorted(created for created, _ in results) == [False] * 19 + [True]
    assert {points for _, points in results} == {250}
    assert LoyaltyAccount.objects.get(customer=customer).balance == 250
    assert PointsTransaction.objects.filter(kind=TxKind.EARN).count() == 1
    assert list(ledger_faults()) == []


def test_expiry_run_concurrently_expires_each_lot_once():
    ProgrammeFactory(expiry_months=1)
    store = StoreFactory()
    customers = [CustomerFactory() for _ in range(30)]
    for i, customer in enumerate(customers):
        order_ingest(
            store=store,
            external_id=f"E-{i}",
            customer=customer,
            placed_at=timezone.now() - dt.timedelta(days=60),
            total=Decimal("10.00"),
        )
    results, errors = _run_concurrently(4, lambda _i: points_expire_due(chunk=7))
    assert errors == []
    assert sum(results) == 30
    assert PointsTransaction.objects.filter(kind=TxKind.EXPIRE).count() == 30
    assert points_expire_due() == 0
    assert list(ledger_faults()) == []
