"""A Hypothesis state machine over the loyalty services: orders earn, points mature and expire
as a fake clock advances, refunds claw back, staff adjust, members redeem and cancel. After
every step invariant 1 holds (``ledger_faults()`` is empty, no balance is negative) and
invariant 3 (stock never negative; stock + units held by live redemptions == initial stock).
Every refused request is checked to have changed nothing.

Runs on SQLite and on PostgreSQL (each example is one transaction, rolled back at teardown).
"""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    multiple,
    rule,
    run_state_machine_as_test,
)

from apps.accounts import roles
from apps.core.exceptions import ApplicationError
from apps.customers.models import Order
from apps.customers.services import refund_record
from apps.loyalty.enums import RedemptionStatus
from apps.loyalty.models import (
    LotAllocation,
    LoyaltyAccount,
    PointsLot,
    PointsTransaction,
    Redemption,
    Reward,
)
from apps.loyalty.services import (
    order_ingest,
    points_adjust,
    points_expire_due,
    points_mature_due,
    redemption_cancel,
    redemption_fulfil,
    refund_clawback,
    reward_redeem,
)
from apps.loyalty.verification import ledger_faults
from tests.conftest import make_staff
from tests.customers.factories import CustomerFactory, StoreFactory
from tests.loyalty.factories import ProgrammeFactory, RewardFactory

pytestmark = pytest.mark.django_db

REWARDS = [
    {"cost_points": 40, "stock": None},
    {"cost_points": 120, "stock": 3},
    {"cost_points": 75, "stock": None, "per_member_limit": 2},
    {"cost_points": 60, "stock": 5, "kind": "voucher", "coupon_kind": "fixed", "coupon_value": 5},
    {"cost_points": 30, "stock": 4, "kind": "donation"},
]


class LedgerMachine(RuleBasedStateMachine):
    redemptions = Bundle("redemptions")
    orders = Bundle("orders")

    def __init__(self):
        super().__init__()
        self._atomic = transaction.atomic()
        self._atomic.__enter__()
        # Far enough back that 25 steps of up to 45 days never date an order in the future
        # (order_record refuses orders dated more than a day ahead).
        self.clock = timezone.now() - dt.timedelta(days=1200)
        self.n = 0
        ProgrammeFactory(pending_days=14, expiry_policy="rolling", expiry_months=2)
        self.store = StoreFactory(code="sm-store")
        self.members = [CustomerFactory(), CustomerFactory()]
        self.staff = make_staff(roles.MANAGER)
        self.rewards = [RewardFactory(**terms) for terms in REWARDS]
        self.initial_stock = {r.pk: r.stock for r in self.rewards}
        for member in self.members:  # a sign-up credit, so early redemptions can succeed
            points_adjust(customer=member, points=200, reason="welcome", actor=self.staff)

    def teardown(self):
        transaction.set_rollback(True)
        self._atomic.__exit__(None, None, None)

    def _key(self) -> str:
        self.n += 1
        return f"sm-{self.n}"

    def _snapshot(self):
        return (
            list(LoyaltyAccount.objects.order_by("pk").values_list("balance", "pending", "debt")),
            PointsTransaction.objects.count(),
            list(Redemption.objects.order_by("pk").values_list("status", flat=True)),
            list(Reward.objects.order_by("pk").values_list("stock", flat=True)),
            list(PointsLot.objects.order_by("pk").values_list("remaining", "status")),
            LotAllocation.objects.count(),
        )

    def _refused_changes_nothing(self, call):
        before = self._snapshot()
        try:
            return call()
        except ApplicationError:
            assert self._snapshot() == before
            return None

    @rule(
        target=orders,
        member=st.integers(0, 1),
        total=st.decimals(min_value=1, max_value=600, places=2),
    )
    def earn(self, member, total):
        order, created, _ = order_ingest(
            store=self.store,
            external_id=self._key(),
            customer=self.members[member],
            placed_at=self.clock,
            total=total,
        )
        assert created
        return order.pk

    @rule(order_id=orders, share=st.sampled_from([Decimal("0.25"), Decimal("0.5"), Decimal(1)]))
    def refund(self, order_id, share):
        order = Order.objects.get(pk=order_id)
        amount = min((order.total * share).quantize(Decimal("0.01")), order.refundable)
        if amount <= 0:
            return
        refund, created = refund_record(order=order, refund_id=self._key(), amount=amount)
        assert created
        refund_clawback(refund=refund)

    @rule(days=st.integers(1, 45))
    def advance_and_expire(self, days):
        self.clock += dt.timedelta(days=days)
        points_expire_due(as_of=self.clock)
        assert points_expire_due(as_of=self.clock) == 0  # a lot expires once

    @rule()
    def mature(self):
        points_mature_due(as_of=self.clock)
        assert points_mature_due(as_of=self.clock) == 0

    @rule(member=st.integers(0, 1), points=st.integers(-300, 300).filter(bool))
    def adjust(self, member, points):
        self._refused_changes_nothing(
            lambda: points_adjust(
                customer=self.members[member], points=points, reason="test", actor=self.staff
            )
        )

    @rule(
        target=redemptions,
        member=st.integers(0, 1),
        reward=st.integers(0, len(REWARDS) - 1),
        quantity=st.integers(1, 3),
    )
    def redeem(self, member, reward, quantity):
        customer = self.members[member]
        account = LoyaltyAccount.objects.filter(customer=customer).first()
        lots_before = (
            list(
                PointsLot.objects.filter(account=account, status="available", remaining__gt=0)
                .order_by("expires_at", "earned_at", "id")
                .values_list("pk", "remaining")
            )
            if account
            else []
        )
        redemption = self._refused_changes_nothing(
            lambda: reward_redeem(
                customer=customer,
                reward=self.rewards[reward],
                quantity=quantity,
                key=self._key(),
            )
        )
        if redemption is None:
            return multiple()
        # Invariant 4: the allocations are a prefix of the soonest-expiring lots.
        taken = dict(
            LotAllocation.objects.filter(
                transaction__idempotency_key=f"redemption:{redemption.pk}"
            ).values_list("lot_id", "points")
        )
        need = redemption.points
        for lot_id, remaining in lots_before:
            expected = min(remaining, need)
            assert taken.get(lot_id, 0) == expected
            need -= expected
        assert need == 0
        return redemption.pk

    @rule(redemption_id=redemptions)
    def fulfil(self, redemption_id):
        redemption = Redemption.objects.get(pk=redemption_id)
        result = self._refused_changes_nothing(
            lambda: redemption_fulfil(redemption=redemption, actor=self.staff)
        )
        assert (result is None) == (redemption.status != RedemptionStatus.REQUESTED)

    @rule(redemption_id=consumes(redemptions))
    def cancel(self, redemption_id):
        redemption = Redemption.objects.get(pk=redemption_id)
        debt = redemption.account.debt
        allocations = list(
            LotAllocation.objects.filter(
                transaction__idempotency_key=f"redemption:{redemption.pk}"
            ).values_list("lot_id", "points", "lot__status", "lot__remaining", "lot__expires_at")
        )
        lots_before = PointsLot.objects.count()
        result = self._refused_changes_nothing(
            lambda: redemption_cancel(redemption=redemption, actor=self.staff)
        )
        if result is None:
            return
        assert result.status == RedemptionStatus.CANCELLED
        if debt:
            return  # the restored points may settle debt at once; the ledger invariant holds
        # The points go back to the lots they came from, with their expiry; a lot already
        # closed by the expiry job comes back as a twin lot with the same expiry.
        twins = 0
        for lot_id, points, status, remaining, expires_at in allocations:
            if status == "expired":
                twins += 1
                assert PointsLot.objects.filter(
                    pk__gt=lot_id, expires_at=expires_at, points=points, remaining=points
                ).exists()
                continue
            lot = PointsLot.objects.get(pk=lot_id)
            assert (lot.status, lot.remaining, lot.expires_at) == (
                "available",
                remaining + points,
                expires_at,
            )
        assert PointsLot.objects.count() == lots_before + twins

    @invariant()
    def ledger_is_consistent(self):
        assert list(ledger_faults()) == []
        assert not LoyaltyAccount.objects.filter(balance__lt=0).exists()

    @invariant()
    def stock_is_accounted_for(self):
        for reward in Reward.objects.all():
            if reward.stock is None:
                continue
            held = (
                Redemption.objects.filter(reward=reward)
                .exclude(status=RedemptionStatus.CANCELLED)
                .aggregate(q=Sum("quantity"))["q"]
                or 0
            )
            assert reward.stock >= 0
            assert reward.stock + held == self.initial_stock[reward.pk]


def test_ledger_state_machine(db):
    run_state_machine_as_test(
        LedgerMachine,
        settings=settings(
            max_examples=30,
            stateful_step_count=25,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
