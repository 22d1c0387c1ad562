"""The order path's one-statement writes on PostgreSQL write exactly the rows the ORM path
writes: the order with its lines (``order_record``), and a lot with its ledger row and the
account's counters (``ledger.lot_append``)."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.forms.models import model_to_dict
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.customers.models import Order, OrderLine
from apps.customers.services import order_record
from apps.customers.services import orders as orders_module
from apps.loyalty import ledger
from apps.loyalty.enums import TxKind
from apps.loyalty.locks import lock_account
from apps.loyalty.models import LoyaltyAccount, PointsLot, PointsTransaction, Programme
from apps.loyalty.verification import ledger_faults
from tests.customers.factories import CustomerFactory, StoreFactory
from tests.loyalty.factories import ProgrammeFactory

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

LINES = [
    {"sku": "T1", "name": "Tieguanyin", "category": "tea", "quantity": Decimal("1.5"),
     "unit_price": Decimal("80.00")},
    {"sku": "C1", "category": "ware", "unit_price": Decimal("30.00")},
]  # fmt: skip


PLACED = timezone.now() - dt.timedelta(hours=2)


def _record(store, customer, external_id, placed_at=None):
    return order_record(
        store=store,
        external_id=external_id,
        customer=customer,
        placed_at=placed_at or PLACED,
        total=Decimal("140.00"),
        discount=Decimal("10.00"),
        coupon_code="SPRING",
        channel="online",
        lines=LINES,
    )


def _shape(order: Order) -> tuple[dict, list[dict]]:
    row = model_to_dict(order, exclude=["id", "external_id"])
    lines = [
        model_to_dict(line, exclude=["id", "order"])
        for line in OrderLine.objects.filter(order=order).order_by("sku")
    ]
    return row, lines


def test_the_one_statement_order_is_the_orm_order(monkeypatch):
    store, customer = StoreFactory(), CustomerFactory()
    with CaptureQueriesContext(connection) as ctx:
        fast, created = _record(store, customer, "FAST-1")
    assert created
    assert sum("WITH c AS" in q["sql"] for q in ctx.captured_queries) == 1
    monkeypatch.setattr(orders_module, "is_postgres", lambda conn=None: False)
    slow, created = _record(store, customer, "ORM-1")
    assert created
    fresh = Order.objects.get(pk=fast.pk)
    assert _shape(fresh) == _shape(Order.objects.get(pk=slow.pk))
    assert (fresh.created_at, fresh.placed_at) == (fast.created_at, fast.placed_at)


def test_a_repeat_through_the_one_statement_path_writes_nothing():
    store, customer = StoreFactory(), CustomerFactory()
    first, _ = _record(store, customer, "FAST-2")
    again, created = _record(store, customer, "FAST-2")
    assert (again.pk, created) == (first.pk, False)
    assert OrderLine.objects.filter(order__external_id="FAST-2").count() == 2


def test_an_order_for_a_merged_away_customer_goes_to_the_survivor():
    store, survivor = StoreFactory(), CustomerFactory()
    merged = CustomerFactory()
    type(merged).objects.filter(pk=merged.pk).update(merged_into=survivor, merged_at=timezone.now())
    order, created = _record(store, merged, "FAST-3")
    assert created and order.customer_id == survivor.pk
    assert Order.objects.get(pk=order.pk).customer_id == survivor.pk


def _earn(account_id: int, key: str, points: int) -> PointsTransaction:
    account = lock_account(customer_id=LoyaltyAccount.objects.get(pk=account_id).customer_id)
    programme = Programme.get()
    now = timezone.now()
    lot = ledger.lot_new(
        account=account,
        points=points,
        earned_at=now,
        available_at=now,
        programme=programme,
    )
    return ledger.lot_append(
        account=account,
        lot=lot,
        kind=TxKind.EARN,
        key=key,
        points=points,
        reason="Base",
        detail={"rules": [1]},
        at=now,
    )


def test_lot_append_writes_what_the_orm_path_writes(monkeypatch):
    ProgrammeFactory()
    one = lock_account(customer_id=CustomerFactory().pk)
    two = lock_account(customer_id=CustomerFactory().pk)
    with CaptureQueriesContext(connection) as ctx:
        fast = _earn(one.pk, "k-fast", 120)
    assert sum("WITH lot AS" in q["sql"] for q in ctx.captured_queries) == 1
    monkeypatch.setattr(ledger, "is_postgres", lambda conn=None: False)
    slow = _earn(two.pk, "k-orm", 120)

    def shape(tx):
        row = PointsTransaction.objects.get(pk=tx.pk)
        lot = PointsLot.objects.get(pk=row.lot_id)
        account = LoyaltyAccount.objects.get(pk=row.account_id)
        return (
            model_to_dict(row, exclude=["id", "account", "lot", "idempotency_key", "hash",
                                        "created_at"]),
            model_to_dict(lot, exclude=["id", "account", "earned_at", "available_at",
                                        "expires_at"]),
            (account.balance, account.pending, account.lifetime_earned, account.last_hash
             == row.hash),
        )  # fmt: skip

    assert shape(fast) == shape(slow)
    assert fast.lot_id == PointsTransaction.objects.get(pk=fast.pk).lot_id
    assert list(ledger_faults()) == []
