import datetime as dt
import hashlib
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


def test_the_same_order_earns_once(programme, customer, store):
    from apps.loyalty.services import order_ingest

    order = {
        "store": store,
        "external_id": "X1",
        "customer": customer,
        "placed_at": timezone.now() - dt.timedelta(days=30),
        "total": Decimal(100),
    }
    order_ingest(**order)
    _, created, outcome = order_ingest(**order)
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
    EarnRuleFactory(
        kind="promotion",
        multiplier=Decimal(3),
        priority=200,
        stackable=False,
        starts_at=timezone.now() - dt.timedelta(days=60),
        ends_at=timezone.now(),
    )
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
    from apps.loyalty.services.earning import order_earn
    from apps.loyalty.services.earning_bulk import orders_earn_bulk
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


def test_non_stackable_promotion_outside_its_window_leaves_the_other_rules(
    programme, customer, buy
):
    EarnRuleFactory(
        kind="promotion",
        multiplier=Decimal(3),
        priority=200,
        stackable=False,
        starts_at=timezone.now() - dt.timedelta(days=10),
        ends_at=timezone.now() + dt.timedelta(days=10),
    )
    EarnRuleFactory(kind="category", category="tea", multiplier=Decimal(2), priority=100)
    lines = [{"sku": "T1", "category": "tea", "quantity": Decimal(1), "unit_price": Decimal(100)}]
    assert buy(customer, "100", days_ago=30, lines=lines)[2].points_earned == 200


# --- event-based bonuses -------------------------------------------------------------------------


def _event_rule(event="profile_completed", points=100, **kwargs):
    return EarnRuleFactory(kind="event", event=event, multiplier=1, bonus_points=points, **kwargs)


def test_event_bonus_is_awarded_once_per_reference(programme, customer):
    from apps.loyalty.services.bonuses import event_bonus_award

    _event_rule(points=100)
    tx = event_bonus_award(customer=customer, event="profile_completed", reference="p-1")
    again = event_bonus_award(customer=customer, event="profile_completed", reference="p-1")

    assert again == tx and (tx.kind, tx.points) == (TxKind.EARN, 100)
    digest = hashlib.sha256(b"p-1").hexdigest()[:32]
    assert tx.idempotency_key == f"event:profile_completed:{customer.pk}:{digest}"
    assert "p-1" not in tx.source_ref  # the raw reference never enters the ledger
    assert _account(customer).balance == 100
    event_bonus_award(customer=customer, event="profile_completed", reference="p-2")
    assert _account(customer).balance == 200
    assert list(ledger_faults()) == []


def test_event_bonus_rules_stack_by_priority(programme, customer):
    from apps.loyalty.services.bonuses import event_bonus_award

    _event_rule(event="review_posted", points=50)
    _event_rule(event="review_posted", points=20)
    _event_rule(event="app_installed", points=999)
    assert event_bonus_award(customer=customer, event="review_posted", reference="r1").points == 70

    _event_rule(event="review_posted", points=200, priority=300, stackable=False)
    assert event_bonus_award(customer=customer, event="review_posted", reference="r2").points == 200


def test_event_bonus_respects_the_window_activity_and_tiers(programme, tiers, customer):
    from apps.loyalty.services.bonuses import event_bonus_award

    now = timezone.now()
    _event_rule(event="survey_completed", ends_at=now - dt.timedelta(days=1))
    _event_rule(event="survey_completed", is_active=False)
    _event_rule(event="survey_completed").tiers.set([tiers[1]])  # silver only
    assert event_bonus_award(customer=customer, event="survey_completed", reference="s1") is None
    assert not PointsTransaction.objects.exists()

    _event_rule(event="survey_completed", points=30).tiers.set([tiers[0]])  # member
    assert (
        event_bonus_award(customer=customer, event="survey_completed", reference="s1").points == 30
    )


def test_event_without_a_rule_awards_nothing(programme, customer):
    from apps.loyalty.services.bonuses import event_bonus_award

    assert event_bonus_award(customer=customer, event="app_installed", reference="a1") is None
    assert not PointsTransaction.objects.exists()


def test_unknown_event_or_blank_reference_is_refused(programme, customer):
    from apps.core.exceptions import ValidationFailed
    from apps.loyalty.services.bonuses import event_bonus_award

    _event_rule()
    with pytest.raises(ValidationFailed) as exc:
        event_bonus_award(customer=customer, event="moon_landing", reference="m1")
    assert exc.value.extra["field"] == "event"
    with pytest.raises(ValidationFailed) as exc:
        event_bonus_award(customer=customer, event="profile_completed", reference=" ")
    assert exc.value.extra["field"] == "reference"
    assert not PointsTransaction.objects.exists()


def test_event_bonus_settles_points_owed(programme, customer, buy, manager):
    from apps.loyalty.services import points_adjust
    from apps.loyalty.services.bonuses import event_bonus_award

    order, _, _ = buy(customer, "100", days_ago=30)
    points_adjust(customer=customer, points=-100, reason="gift", actor=manager)
    refund, _ = refund_record(order=order, refund_id="R1", amount=Decimal(40))
    refund_clawback(refund=refund)
    _event_rule(points=100)
    event_bonus_award(customer=customer, event="profile_completed", reference="p-1")
    account = _account(customer)
    assert (account.balance, account.debt) == (60, 0)
    assert list(ledger_faults()) == []


# --- imports -------------------------------------------------------------------------------------


def test_imported_history_is_dated_when_it_happened_and_does_not_count_as_recent(
    customer, store, tmp_path, django_capture_on_commit_callbacks
):
    from apps.customers.importing.orders import orders_import
    from tests.loyalty.factories import ProgrammeFactory, TierFactory

    ProgrammeFactory(pending_days=0, expiry_policy="never")
    TierFactory(slug="member", rank=0)
    TierFactory(slug="star", rank=1, metric="points", threshold=Decimal(1000), window_months=12)
    old = timezone.localdate() - dt.timedelta(days=500)
    path = tmp_path / "orders.csv"
    path.write_text(
        "member_number,external_id,store,placed_at,total\n"
        f"{customer.member_number},OLD-1,{store.code},{old.isoformat()},1500.00\n",
        encoding="utf-8",
    )
    with django_capture_on_commit_callbacks(execute=True):
        orders_import(path=path, dry_run=False)

    tx = PointsTransaction.objects.get(kind=TxKind.EARN)
    assert timezone.localdate(tx.created_at) == old
    account = _account(customer)
    assert (account.balance, account.tier.slug) == (1500, "member")
    assert list(ledger_faults()) == []


def test_bulk_earning_creates_accounts_in_the_entry_tier_even_without_points(
    programme, tiers, store
):
    from apps.customers.services import order_record
    from apps.loyalty.services.earning_bulk import orders_earn_bulk
    from tests.customers.factories import CustomerFactory

    customer = CustomerFactory()
    order, _ = order_record(
        store=store,
        external_id="FREE-1",
        customer=customer,
        placed_at=timezone.now() - dt.timedelta(days=3),
        total=Decimal(0),
    )
    assert orders_earn_bulk(order_ids=[order.pk]) == 0
    account = _account(customer)
    assert (account.tier.slug, account.balance) == ("member", 0)
    assert account.tier_since is not None
