import datetime as dt
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.utils import timezone

from apps.customers.services import refund_record
from apps.loyalty.enums import LotStatus, TxKind
from apps.loyalty.models import LoyaltyAccount, PointsLot, PointsTransaction
from apps.loyalty.services import points_expire_due, points_mature_due, refund_clawback
from apps.loyalty.verification import ledger_faults
from tests.loyalty.factories import EarnRuleFactory

pytestmark = pytest.mark.django_db


def _account(customer):
    return LoyaltyAccount.objects.get(customer=customer)


def test_recent_order_earns_pending_points_that_mature_after_the_return_window(
    programme, customer, buy
):
    _, created, outcome = buy(customer, "128.50")
    assert created and (outcome.points_earned, outcome.points_pending, outcome.balance) == (
        0,
        128,
        0,
    )
    assert points_mature_due() == 0
    assert points_mature_due(as_of=timezone.now() + dt.timedelta(days=15)) == 1
    account = _account(customer)
    assert (account.balance, account.pending, account.lifetime_earned) == (128, 0, 128)
    assert list(ledger_faults()) == []


def test_the_same_order_earns_once(programme, customer, buy):
    buy(customer, "100", external_id="X1", days_ago=30)
    _, created, outcome = buy(customer, "100", external_id="X1", days_ago=30)
    assert not created and outcome.points_earned == 100
    assert _account(customer).balance == 100
    assert PointsTransaction.objects.filter(kind=TxKind.EARN).count() == 1


def test_rules_multiply_matching_lines_and_tier_multiplier_applies(programme, tiers, customer, buy):
    EarnRuleFactory(kind="category", category="tea", multiplier=Decimal(2))
    lines = [
        {"sku": "T1", "category": "tea", "quantity": Decimal(1), "unit_price": Decimal(60)},
        {"sku": "C1", "category": "cups", "quantity": Decimal(2), "unit_price": Decimal(20)},
    ]
    _, _, outcome = buy(customer, "100", days_ago=30, lines=lines)
    assert outcome.points_earned == 160  # 60×2 + 40


def test_non_stackable_rule_stops_lower_priority_rules(programme, customer, buy):
    EarnRuleFactory(kind="promotion", multiplier=Decimal(3), priority=200, stackable=False)
    EarnRuleFactory(kind="category", category="tea", multiplier=Decimal(2), priority=100)
    lines = [{"sku": "T1", "category": "tea", "quantity": Decimal(1), "unit_price": Decimal(100)}]
    _, _, outcome = buy(customer, "100", days_ago=30, lines=lines)
    assert outcome.points_earned == 300


def test_first_purchase_bonus_only_once(programme, customer, buy):
    EarnRuleFactory(kind="first_purchase", multiplier=Decimal(1), bonus_points=50)
    assert buy(customer, "10", days_ago=40)[2].points_earned == 60
    assert buy(customer, "10", days_ago=30)[2].points_earned == 10


def test_rule_outside_its_window_does_not_apply(programme, customer, buy):
    EarnRuleFactory(
        kind="promotion", multiplier=Decimal(5), ends_at=timezone.now() - dt.timedelta(days=60)
    )
    assert buy(customer, "10", days_ago=30)[2].points_earned == 10


def test_tier_upgrades_at_once(programme, tiers, customer, buy):
    buy(customer, "600", days_ago=30)
    assert _account(customer).tier.slug == "member"
    _, _, outcome = buy(customer, "500", days_ago=29)
    assert outcome.tier.slug == "silver"
    # Silver earns 1.25×
    assert buy(customer, "100", days_ago=28)[2].points_earned == 125


def test_refund_claws_back_pending_points_in_proportion_once(programme, customer, buy):
    order, _, _ = buy(customer, "200")
    refund, _ = refund_record(order=order, refund_id="R1", amount=Decimal(50))
    refund_clawback(refund=refund)
    refund_clawback(refund=refund)
    account = _account(customer)
    assert (account.pending, account.balance) == (150, 0)
    refund2, _ = refund_record(order=order, refund_id="R2", amount=Decimal(150))
    refund_clawback(refund=refund2)
    account.refresh_from_db()
    assert account.pending == 0 and PointsLot.objects.get().status == LotStatus.VOID
    assert list(ledger_faults()) == []


def test_refund_after_spending_records_debt_settled_from_future_earnings(
    programme, customer, buy, manager
):
    from apps.loyalty.services import points_adjust

    order, _, _ = buy(customer, "100", days_ago=30)
    points_adjust(customer=customer, points=-80, reason="gift", actor=manager)
    refund, _ = refund_record(order=order, refund_id="R1", amount=Decimal(100))
    refund_clawback(refund=refund)
    account = _account(customer)
    assert (account.balance, account.debt) == (0, 80)
    buy(customer, "50", days_ago=20)
    account.refresh_from_db()
    assert (account.balance, account.debt) == (0, 30)
    buy(customer, "50", days_ago=19)
    account.refresh_from_db()
    assert (account.balance, account.debt) == (20, 0)
    assert list(ledger_faults()) == []


def test_lots_expire_once_and_the_ledger_stays_consistent(programme, customer, buy):
    buy(customer, "100", days_ago=400)  # rolling 12 months: already past expiry
    buy(customer, "30", days_ago=30)
    later = timezone.now()
    assert points_expire_due(as_of=later) == 1
    assert points_expire_due(as_of=later) == 0
    account = _account(customer)
    assert account.balance == 30
    assert PointsTransaction.objects.filter(kind=TxKind.EXPIRE).get().points == -100
    call_command("verify_ledger")


def test_verify_ledger_detects_a_tampered_row(programme, customer, buy, db):
    from django.db import connection

    buy(customer, "100", days_ago=30)
    if connection.vendor == "postgresql":  # an attacker with DDL rights switches the guard off
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute(
                "ALTER TABLE loyalty_pointstransaction DISABLE TRIGGER loyalty_pointstransaction_append_only"
            )
    PointsTransaction.objects.update(points=1000)
    faults = list(ledger_faults())
    assert any("hash does not match" in f for f in faults)
    assert any("balance 100 != ledger sum 1000" in f for f in faults)


@pytest.mark.postgres
def test_postgres_rejects_update_and_delete_on_the_ledger(programme, customer, buy):
    from django.db import DatabaseError, transaction

    buy(customer, "100", days_ago=30)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        PointsTransaction.objects.update(points=5)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        PointsTransaction.objects.all().delete()
    assert PointsTransaction.objects.get().points == 100


def test_bulk_earning_matches_one_by_one_earning(programme, tiers, store):
    from apps.customers.services import order_record
    from apps.loyalty.services.earning import order_earn, orders_earn_bulk
    from tests.customers.factories import CustomerFactory

    EarnRuleFactory(kind="first_purchase", multiplier=Decimal(1), bonus_points=50)
    a, b = CustomerFactory(), CustomerFactory()

    def orders_for(customer, prefix, earn_each=False):
        orders = []
        for i, (d, t) in enumerate([(200, "700"), (100, "400"), (3, "90")]):
            order, _ = order_record(
                store=store,
                external_id=f"{prefix}-{i}",
                customer=customer,
                placed_at=timezone.now() - dt.timedelta(days=d),
                total=Decimal(t),
            )
            if earn_each:
                order_earn(order=order)
            orders.append(order)
        return orders

    bulk = orders_for(a, "A")
    assert orders_earn_bulk(order_ids=[o.pk for o in bulk]) == 3
    assert orders_earn_bulk(order_ids=[o.pk for o in bulk]) == 0  # idempotent
    orders_for(b, "B", earn_each=True)
    acc_a, acc_b = _account(a), _account(b)
    assert (acc_a.balance, acc_a.pending, acc_a.lifetime_earned) == (1150, 90, 1240)
    assert acc_a.tier.slug == "silver" and acc_b.tier.slug == "silver"
    # One by one, the last order already earns at silver's 1.25×: the bulk path upgrades at the end.
    assert (acc_b.balance, acc_b.pending) == (1150, 112)
    assert list(ledger_faults()) == []
