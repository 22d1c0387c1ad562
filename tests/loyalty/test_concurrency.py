"""Invariant 3 under real concurrency on PostgreSQL: stock, per-member limits, balances and
coupon usage limits hold when many requests arrive at once.

Each test runs its requests on a pool of real threads (each with its own database connection,
closed at the end of the thread's work). The pool is smaller than the request count so the
test stays well below PostgreSQL's max_connections; every worker waits on one start signal,
so the first ``WORKERS`` requests hit the database together and the rest follow as soon as a
worker is free. Every outcome — result or exception — is collected and asserted exactly.
"""

from decimal import Decimal

import pytest
from django.utils import timezone

from apps.loyalty.enums import TxKind
from apps.loyalty.models import Coupon, CouponUse, LoyaltyAccount, PointsTransaction, Redemption
from apps.loyalty.services import bonus_award, coupon_redeem, reward_redeem
from apps.loyalty.verification import ledger_faults
from tests.concurrency import outcome_kinds, run_concurrently
from tests.customers.factories import CustomerFactory, StoreFactory
from tests.loyalty.factories import ProgrammeFactory, RewardFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

WORKERS = 32


def _fund(customer, points):
    bonus_award(customer=customer, points=points, key=f"fund:{customer.pk}", reason="test")


def test_200_members_racing_for_10_in_stock_get_exactly_10():
    ProgrammeFactory()
    members = [CustomerFactory() for _ in range(200)]
    for member in members:
        _fund(member, 500)
    reward = RewardFactory(cost_points=100, stock=10)

    outcomes = run_concurrently(
        200,
        lambda i: reward_redeem(customer=members[i], reward=reward, key=f"race:{i}").pk,
    )

    assert outcome_kinds(outcomes) == {"ok": 10, "OutOfStock": 190}
    reward.refresh_from_db()
    assert reward.stock == 0
    assert Redemption.objects.count() == 10
    assert PointsTransaction.objects.filter(kind=TxKind.REDEEM).count() == 10
    winners = {value for status, value in outcomes if status == "ok"}
    spent = LoyaltyAccount.objects.filter(balance=400).values_list("redemptions", flat=True)
    assert set(spent) == winners
    assert LoyaltyAccount.objects.filter(balance=500).count() == 190
    assert list(ledger_faults()) == []


def test_one_member_who_can_afford_3_gets_exactly_3_of_50():
    ProgrammeFactory()
    member = CustomerFactory()
    _fund(member, 350)
    reward = RewardFactory(cost_points=100, stock=None)

    outcomes = run_concurrently(
        50, lambda i: reward_redeem(customer=member, reward=reward, key=f"one:{i}").pk
    )

    assert outcome_kinds(outcomes) == {"ok": 3, "InsufficientPoints": 47}
    assert LoyaltyAccount.objects.get(customer=member).balance == 50
    assert Redemption.objects.count() == 3
    assert list(ledger_faults()) == []


def test_per_member_limit_holds_under_concurrency():
    ProgrammeFactory()
    member = CustomerFactory()
    _fund(member, 10_000)
    reward = RewardFactory(cost_points=10, per_member_limit=2, stock=100)

    outcomes = run_concurrently(
        30, lambda i: reward_redeem(customer=member, reward=reward, key=f"limit:{i}").pk
    )

    assert outcome_kinds(outcomes) == {"ok": 2, "LimitReached": 28}
    reward.refresh_from_db()
    assert reward.stock == 98 and LoyaltyAccount.objects.get(customer=member).balance == 9980
    assert list(ledger_faults()) == []


def test_the_same_redemption_key_20_times_concurrently_redeems_once():
    ProgrammeFactory()
    member = CustomerFactory()
    _fund(member, 1000)
    reward = RewardFactory(cost_points=100, stock=50)

    outcomes = run_concurrently(
        20, lambda i: reward_redeem(customer=member, reward=reward, key="retry").pk
    )

    assert outcome_kinds(outcomes) == {"ok": 20}
    assert len({value for _, value in outcomes}) == 1
    assert Redemption.objects.count() == 1
    assert LoyaltyAccount.objects.get(customer=member).balance == 900
    reward.refresh_from_db()
    assert reward.stock == 49
    assert list(ledger_faults()) == []


def _coupon(**kwargs) -> Coupon:
    from apps.loyalty.codes import coupon_code_generate

    return Coupon.objects.create(
        code=coupon_code_generate(),
        kind="fixed",
        value=Decimal(10),
        valid_from=timezone.now(),
        **kwargs,
    )


def test_one_coupon_redeemed_100_times_on_different_orders_is_used_once():
    store = StoreFactory()
    coupon = _coupon(max_uses=1, max_uses_per_customer=1)

    outcomes = run_concurrently(
        100,
        lambda i: (
            coupon_redeem(
                code=coupon.code, store=store, order_external_id=f"ORD-{i}", order_total=Decimal(50)
            ).pk
        ),
    )

    assert outcome_kinds(outcomes) == {"ok": 1, "CouponInvalid": 99}
    assert CouponUse.objects.count() == 1
    coupon.refresh_from_db()
    assert coupon.uses == 1


def test_the_same_coupon_and_order_20_times_concurrently_is_one_use():
    store = StoreFactory()
    coupon = _coupon(max_uses=5, max_uses_per_customer=5)

    outcomes = run_concurrently(
        20,
        lambda i: (
            coupon_redeem(
                code=coupon.code, store=store, order_external_id="ORD-1", order_total=Decimal(50)
            ).pk
        ),
    )

    assert outcome_kinds(outcomes) == {"ok": 20}
    assert len({value for _, value in outcomes}) == 1
    assert CouponUse.objects.count() == 1
    coupon.refresh_from_db()
    assert coupon.uses == 1
