"""The set-based nightly jobs (``points_expire_due``, ``points_mature_due``): the rows they chain
in memory are exactly the rows ``ledger.build`` would have written, whatever the chunking, a
second run does nothing, and their queries do not grow with the lots."""

import datetime as dt
from decimal import Decimal
from itertools import pairwise

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.customers.services import refund_record
from apps.loyalty import ledger
from apps.loyalty.enums import LotStatus, TxKind
from apps.loyalty.models import LoyaltyAccount, PointsLot, PointsTransaction
from apps.loyalty.services import (
    points_adjust,
    points_expire_due,
    points_mature_due,
    refund_clawback,
)
from apps.loyalty.verification import ledger_faults
from tests.concurrency import outcome_kinds, run_concurrently
from tests.customers.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def _account(customer) -> LoyaltyAccount:
    return LoyaltyAccount.objects.get(customer=customer)


def _rows(customer, kind: str) -> list[PointsTransaction]:
    return list(
        PointsTransaction.objects.filter(account__customer=customer, kind=kind).order_by("id")
    )


def _rehashed(row: PointsTransaction) -> str:
    return ledger.tx_hash(
        prev_hash=row.prev_hash,
        account_id=row.account_id,
        kind=row.kind,
        points=row.points,
        pending_points=row.pending_points,
        balance_after=row.balance_after,
        idempotency_key=row.idempotency_key,
        created_at=row.created_at,
    )


def test_many_lots_of_one_account_expire_in_one_run_chained_soonest_expiry_first(
    programme, customer, buy
):
    for i in range(12):  # earned 400..411 days ago: each expired, the oldest (21 points) first
        buy(customer, str(10 + i), days_ago=400 + i)
    buy(customer, "30", days_ago=30)
    head = _account(customer).last_hash
    at = timezone.now()

    assert points_expire_due(as_of=at) == 12

    rows = _rows(customer, TxKind.EXPIRE)
    assert [r.points for r in rows] == [-p for p in range(21, 9, -1)]
    assert [r.balance_after for r in rows] == [30 + sum(range(10, p)) for p in range(21, 9, -1)]
    assert rows[0].prev_hash == head
    assert all(later.prev_hash == earlier.hash for earlier, later in pairwise(rows))
    assert [r.hash for r in rows] == [_rehashed(r) for r in rows]
    account = _account(customer)
    assert (account.balance, account.pending, account.last_hash) == (30, 0, rows[-1].hash)
    assert list(ledger_faults()) == []


def test_an_expiry_row_is_what_ledger_build_writes(programme, customer, buy):
    order, _, _ = buy(customer, "100", days_ago=400)
    lot = PointsLot.objects.get(order=order)
    at = timezone.now()

    points_expire_due(as_of=at)

    (row,) = _rows(customer, TxKind.EXPIRE)
    assert (row.points, row.pending_points, row.balance_after) == (-100, 0, 0)
    assert (row.idempotency_key, row.lot_id, row.order_id) == (f"lot:{lot.pk}:expire", lot.pk, None)
    assert (row.reason, row.source_ref, row.detail, row.created_at) == (
        "Points expired",
        "",
        {},
        at,
    )
    lot.refresh_from_db()
    assert (lot.status, lot.remaining, lot.points) == (LotStatus.EXPIRED, 0, 100)


def test_a_second_run_expires_nothing_and_writes_nothing(programme, customer, buy):
    buy(customer, "100", days_ago=400)
    buy(customer, "40", days_ago=401)
    at = timezone.now()
    assert points_expire_due(as_of=at) == 2
    rows, account = PointsTransaction.objects.count(), _account(customer)

    assert points_expire_due(as_of=at) == 0
    assert points_expire_due(as_of=at + dt.timedelta(days=1)) == 0

    assert PointsTransaction.objects.count() == rows
    after = _account(customer)
    assert (after.balance, after.last_hash, after.updated_at) == (
        0,
        account.last_hash,
        account.updated_at,
    )


@pytest.mark.parametrize("chunk", [1, 2, 1000])
def test_every_chunking_chains_each_account_and_verifies(programme, store, buy, chunk):
    customers = [CustomerFactory(store=store) for _ in range(3)]
    for n, customer in enumerate(customers, start=1):
        for i in range(n + 1):
            buy(customer, str(10 * n + i), days_ago=400 + i)
        buy(customer, "5", days_ago=3)  # pending: not touched by expiry
    at = timezone.now()

    assert points_expire_due(as_of=at, chunk=chunk) == 2 + 3 + 4

    for n, customer in enumerate(customers, start=1):
        rows = _rows(customer, TxKind.EXPIRE)
        assert len(rows) == n + 1
        assert all(later.prev_hash == earlier.hash for earlier, later in pairwise(rows))
        assert [r.hash for r in rows] == [_rehashed(r) for r in rows]
        account = _account(customer)
        assert (account.balance, account.pending, account.last_hash) == (0, 5, rows[-1].hash)
    assert list(ledger_faults()) == []


def _queries(run) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        run()
    return [q["sql"] for q in captured.captured_queries]


def test_queries_do_not_grow_with_the_lots(programme, store, buy):
    few = [CustomerFactory(store=store) for _ in range(2)]
    for customer in few:
        buy(customer, "10", days_ago=400)
    first = _queries(lambda: points_expire_due(as_of=timezone.now()))
    many = [CustomerFactory(store=store) for _ in range(2)]
    for customer in many:
        for i in range(8):
            buy(customer, "10", days_ago=400 + i)

    second = _queries(lambda: points_expire_due(as_of=timezone.now()))

    assert len(_rows(many[0], TxKind.EXPIRE)) == 8
    assert len(second) == len(first)


def test_pending_lots_mature_once_linked_to_their_orders(programme, customer, buy):
    orders = [buy(customer, str(total), days_ago=days)[0] for total, days in ((60, 3), (40, 5))]
    buy(customer, "25", days_ago=1)  # its window ends after the run
    at = timezone.now() + dt.timedelta(days=11)  # 14-day window: the 5- and 3-day-old lots

    assert points_mature_due(as_of=at) == 2
    assert points_mature_due(as_of=at) == 0

    rows = _rows(customer, TxKind.MATURE)
    assert [(r.order_id, r.points, r.pending_points, r.balance_after) for r in rows] == [
        (orders[1].pk, 40, -40, 40),
        (orders[0].pk, 60, -60, 100),
    ]
    assert [r.idempotency_key for r in rows] == [f"lot:{r.lot_id}:mature" for r in rows]
    assert {r.reason for r in rows} == {"Return window passed"}
    assert [r.hash for r in rows] == [_rehashed(r) for r in rows]
    account = _account(customer)
    assert (account.balance, account.pending, account.lifetime_earned) == (100, 25, 125)
    assert account.last_hash == rows[-1].hash
    assert sorted(PointsLot.objects.values_list("status", flat=True)) == [
        LotStatus.AVAILABLE,
        LotStatus.AVAILABLE,
        LotStatus.PENDING,
    ]
    assert list(ledger_faults()) == []


def test_maturing_points_settle_what_the_account_owes(programme, customer, buy, manager):
    order, _, _ = buy(customer, "100", days_ago=30)
    points_adjust(customer=customer, points=-100, reason="gift", actor=manager)
    refund, _ = refund_record(order=order, refund_id="R1", amount=Decimal(100))
    refund_clawback(refund=refund)
    buy(customer, "60", days_ago=1)
    assert (_account(customer).debt, _account(customer).pending) == (100, 60)

    assert points_mature_due(as_of=timezone.now() + dt.timedelta(days=14)) == 1

    account = _account(customer)
    assert (account.balance, account.pending, account.debt) == (0, 0, 40)
    matured, settled = PointsTransaction.objects.filter(account=account).order_by("-id")[:2][::-1]
    assert (matured.kind, settled.kind, settled.points) == (TxKind.MATURE, TxKind.REFUND, -60)
    assert settled.idempotency_key == f"settle:{account.pk}:{matured.hash[:16]}"
    assert list(ledger_faults()) == []


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_maturation_runs_mature_each_lot_once(programme, store, buy):
    customers = [CustomerFactory(store=store) for _ in range(12)]
    for customer in customers:
        buy(customer, "10", days_ago=2)
        buy(customer, "20", days_ago=1)
    at = timezone.now() + dt.timedelta(days=14)

    outcomes = run_concurrently(4, lambda _i: points_mature_due(as_of=at, chunk=5), workers=4)

    assert outcome_kinds(outcomes) == {"ok": 4}
    assert sum(result for _, result in outcomes) == 24
    assert PointsTransaction.objects.filter(kind=TxKind.MATURE).count() == 24
    assert {a.pending for a in LoyaltyAccount.objects.all()} == {0}
    assert list(ledger_faults()) == []
