"""Refund clawback: a refund takes back the refunded share of the order's points. The share that
already expired is not taken again; what is still in the order's own lot is taken from it first;
what the member spent is taken from other available lots (soonest-expiring first) and the rest
is owed, settled from future earnings. Across split refunds, taken + owed + expired never
exceeds what the order earned."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db.models import Sum
from django.utils import timezone

from apps.loyalty.enums import LotStatus, TxKind
from apps.loyalty.models import LoyaltyAccount, PointsLot, PointsTransaction
from apps.loyalty.services import points_expire_due, refund_ingest, reward_redeem
from apps.loyalty.verification import ledger_faults
from tests.loyalty.factories import ProgrammeFactory, RewardFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def programme(db):
    """Points are available at once (no return window) and expire 12 months after earning."""
    return ProgrammeFactory(pending_days=0, expiry_policy="rolling", expiry_months=12)


def _redeem(customer, points: int, key: str) -> None:
    reward_redeem(customer=customer, reward=RewardFactory(cost_points=points), key=key)


def _state(customer) -> tuple[int, int, int]:
    account = LoyaltyAccount.objects.get(customer=customer)
    return account.balance, account.pending, account.debt


def _clawed(order) -> int:
    """Points the order's refunds took from the balance and the pending points."""
    agg = PointsTransaction.objects.filter(kind=TxKind.REFUND, refund__order=order).aggregate(
        p=Sum("points"), q=Sum("pending_points")
    )
    return -((agg["p"] or 0) + (agg["q"] or 0))


def _remaining(order) -> int:
    return PointsLot.objects.get(order=order).remaining


# --- defect 1: split refunds must not charge the same debt twice ---------------------------------


def test_split_refunds_of_a_spent_order_owe_exactly_what_it_earned(programme, customer, buy):
    order, _, _ = buy(customer, "100")
    _redeem(customer, 100, "all-of-it")

    refund_ingest(order=order, refund_id="R1", amount=Decimal(50))
    assert _state(customer) == (0, 0, 50)
    refund_ingest(order=order, refund_id="R2", amount=Decimal(50))

    assert _state(customer) == (0, 0, 100)  # not 150: R1's debt counts as clawed
    assert list(ledger_faults()) == []


def test_split_refunds_take_what_is_left_of_the_lot_then_owe_only_what_was_spent(
    programme, customer, buy
):
    order, _, _ = buy(customer, "100")
    _redeem(customer, 80, "most-of-it")

    refund_ingest(order=order, refund_id="R1", amount=Decimal(50))
    assert _state(customer) == (0, 0, 30) and _clawed(order) == 20
    refund_ingest(order=order, refund_id="R2", amount=Decimal(50))

    # 20 came back from the lot, the 80 spent are owed: 100 in all, the order's points.
    assert _state(customer) == (0, 0, 80) and _clawed(order) == 20
    assert list(ledger_faults()) == []


def test_three_way_split_refund_claws_in_proportion_without_rounding_drift(
    programme, customer, buy
):
    order, _, _ = buy(customer, "100")
    for n, amount in enumerate(["33.33", "33.33", "33.34"]):
        refund_ingest(order=order, refund_id=f"R{n}", amount=Decimal(amount))

    assert [
        -tx.points for tx in PointsTransaction.objects.filter(kind=TxKind.REFUND).order_by("id")
    ] == [33, 34, 33]
    assert _state(customer) == (0, 0, 0) and _clawed(order) == 100


def test_a_replayed_refund_claws_nothing_more(programme, customer, buy):
    order, _, _ = buy(customer, "100")
    _redeem(customer, 100, "all-of-it")
    _, _, first = refund_ingest(order=order, refund_id="R1", amount=Decimal(50))
    _, created, again = refund_ingest(order=order, refund_id="R1", amount=Decimal(50))
    assert not created and again == first
    assert _state(customer) == (0, 0, 50)


# --- defect 2: each part of the refunded share, by where the order's points are now ---------------


def test_points_still_in_the_orders_lot_are_taken_from_that_lot_first(programme, customer, buy):
    order, _, _ = buy(customer, "100", days_ago=30)
    other, _, _ = buy(customer, "50", days_ago=200)  # expires sooner: would be taken first

    refund_ingest(order=order, refund_id="R1", amount=Decimal(40))

    assert (_remaining(order), _remaining(other)) == (60, 50)
    assert _state(customer) == (110, 0, 0)


def test_pending_points_of_the_order_are_taken_from_its_pending_lot(customer, buy):
    ProgrammeFactory(pending_days=14)
    order, _, _ = buy(customer, "100")
    buy(customer, "50", days_ago=30)

    refund_ingest(order=order, refund_id="R1", amount=Decimal(100))

    assert _state(customer) == (50, 0, 0)
    assert PointsLot.objects.get(order=order).status == LotStatus.VOID


def test_spent_points_are_taken_from_other_lots_soonest_expiring_first(programme, customer, buy):
    order, _, _ = buy(customer, "100", days_ago=300)
    _redeem(customer, 100, "spent")
    later, _, _ = buy(customer, "50", days_ago=20)
    sooner, _, _ = buy(customer, "50", days_ago=100)

    refund_ingest(order=order, refund_id="R1", amount=Decimal(60))

    assert (_remaining(sooner), _remaining(later)) == (0, 40)
    assert _state(customer) == (40, 0, 0)
    assert list(ledger_faults()) == []


def test_expired_points_of_the_order_are_not_taken_again(programme, customer, buy):
    order, _, _ = buy(customer, "100", days_ago=400)
    buy(customer, "50", days_ago=30)
    points_expire_due(as_of=timezone.now())
    assert _state(customer) == (50, 0, 0)

    _, _, tx = refund_ingest(order=order, refund_id="R1", amount=Decimal(100))

    assert _state(customer) == (50, 0, 0)  # the 100 already left with the expiry
    assert (tx.points, tx.pending_points) == (0, 0) and "100" in tx.reason
    assert list(ledger_faults()) == []


def test_partly_spent_then_expired_order_claws_only_what_was_spent(programme, customer, buy):
    order, _, _ = buy(customer, "100", days_ago=400)
    _redeem(customer, 30, "before-expiry")  # 30 spent, 70 left to expire
    buy(customer, "50", days_ago=30)
    points_expire_due(as_of=timezone.now())

    refund_ingest(order=order, refund_id="R1", amount=Decimal(50))
    # The first half is covered by the 70 that expired: nothing is taken.
    assert _state(customer) == (50, 0, 0)
    refund_ingest(order=order, refund_id="R2", amount=Decimal(50))

    # 20 more expired points, then the 30 spent are taken from the other lot.
    assert _state(customer) == (20, 0, 0)
    assert _clawed(order) == 30
    assert list(ledger_faults()) == []


def test_what_no_lot_covers_is_owed_and_settled_from_future_earnings(programme, customer, buy):
    order, _, _ = buy(customer, "100", days_ago=30)
    _redeem(customer, 100, "spent")
    buy(customer, "30", days_ago=10)

    refund_ingest(order=order, refund_id="R1", amount=Decimal(100))
    assert _state(customer) == (0, 0, 70)

    buy(customer, "100", days_ago=1)
    assert _state(customer) == (30, 0, 0)
    assert list(ledger_faults()) == []


def test_refunds_of_an_order_with_partly_expired_and_partly_remaining_history_never_exceed_it(
    programme, customer, buy
):
    """Half refunded while the lot was full, the rest of the lot expired, the rest refunded:
    the second half is entirely covered by the expiry."""
    order, _, _ = buy(customer, "100", days_ago=400)
    buy(customer, "50", days_ago=30)
    refund_ingest(order=order, refund_id="R1", amount=Decimal(50))
    assert _remaining(order) == 50
    points_expire_due(as_of=timezone.now())

    refund_ingest(order=order, refund_id="R2", amount=Decimal(50))

    assert _state(customer) == (50, 0, 0) and _clawed(order) == 50
    assert list(ledger_faults()) == []


def test_earlier_refund_recorded_later_keeps_each_refunds_share(programme, customer, buy):
    """Shares follow the refunds' own order (time, then id), so each refund's share is fixed
    whatever order they are processed in."""
    from apps.customers.services import refund_record
    from apps.loyalty.services import refund_clawback

    order, _, _ = buy(customer, "100")
    _redeem(customer, 100, "spent")
    now = timezone.now()
    second, _ = refund_record(order=order, refund_id="R2", amount=Decimal(30), at=now)
    first, _ = refund_record(
        order=order, refund_id="R1", amount=Decimal(70), at=now - dt.timedelta(hours=1)
    )
    refund_clawback(refund=second)
    refund_clawback(refund=first)

    assert _state(customer) == (0, 0, 100)
