import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from apps.core.exceptions import Conflict, ValidationFailed
from apps.core.models import AuditEvent
from apps.loyalty.enums import LotStatus, RedemptionStatus, TxKind
from apps.loyalty.exceptions import InsufficientPoints, LimitReached, NotEligible, OutOfStock
from apps.loyalty.models import (
    Coupon,
    LotAllocation,
    LoyaltyAccount,
    PointsLot,
    PointsTransaction,
    Redemption,
    Reward,
)
from apps.loyalty.services import (
    bonus_award,
    coupon_redeem,
    points_expire_due,
    redemption_cancel,
    redemption_cancel_by_member,
    redemption_fulfil,
    reward_redeem,
)
from apps.loyalty.verification import ledger_faults
from tests.customers.factories import CustomerFactory
from tests.loyalty.factories import RewardFactory, TierFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def give(programme):
    """give(customer, points, days_ago=0): an available lot earned ``days_ago`` days ago (the
    programme's rolling expiry is 12 months, so older lots expire sooner)."""
    counter = {"n": 0}

    def _give(customer, points, days_ago=0):
        counter["n"] += 1
        bonus_award(
            customer=customer,
            points=points,
            key=f"test:give:{customer.pk}:{counter['n']}",
            reason="test",
            at=timezone.now() - dt.timedelta(days=days_ago),
        )

    return _give


def _account(customer):
    return LoyaltyAccount.objects.select_related("tier").get(customer=customer)


def _state(customer, reward=None):
    account = _account(customer)
    return (
        account.balance,
        Redemption.objects.count(),
        PointsTransaction.objects.count(),
        LotAllocation.objects.count(),
        list(account.lots.order_by("pk").values_list("remaining", "status")),
        Coupon.objects.count(),
        Reward.objects.get(pk=reward.pk).stock if reward else None,
    )


def test_redeem_spends_soonest_expiring_points_first(customer, give):
    give(customer, 100, days_ago=100)  # expires in ~265 days
    give(customer, 100, days_ago=300)  # expires in ~65 days: spent first
    redemption = reward_redeem(customer=customer, reward=RewardFactory(cost_points=150), key="k1")
    lots = _account(customer).lots.order_by("expires_at")
    assert list(lots.values_list("remaining", "status")) == [
        (0, LotStatus.SPENT),
        (50, LotStatus.AVAILABLE),
    ]
    tx = PointsTransaction.objects.get(kind=TxKind.REDEEM)
    assert (tx.points, tx.redemption, tx.idempotency_key) == (
        -150,
        redemption,
        f"redemption:{redemption.pk}",
    )
    assert sorted(tx.allocations.values_list("points", flat=True)) == [50, 100]
    assert _account(customer).balance == 50
    assert list(ledger_faults()) == []


def test_refused_redeem_for_lack_of_points_changes_nothing(customer, give):
    give(customer, 50)
    reward = RewardFactory(cost_points=51, stock=5)
    before = _state(customer, reward)
    with pytest.raises(InsufficientPoints) as exc:
        reward_redeem(customer=customer, reward=reward, key="k2")
    assert exc.value.code == "insufficient_points"
    assert _state(customer, reward) == before


def test_stock_is_spent_and_an_empty_stock_refuses_without_change(customer, give):
    give(customer, 1000)
    reward = RewardFactory(cost_points=100, stock=2)
    reward_redeem(customer=customer, reward=reward, quantity=2, key="a")
    reward.refresh_from_db()
    assert reward.stock == 0
    before = _state(customer, reward)
    with pytest.raises(OutOfStock):
        reward_redeem(customer=customer, reward=reward, key="b")
    assert _state(customer, reward) == before
    assert _account(customer).balance == 800


def test_unlimited_stock_stays_unlimited(customer, give):
    give(customer, 300)
    reward = RewardFactory(cost_points=100, stock=None)
    reward_redeem(customer=customer, reward=reward, quantity=3, key="u")
    reward.refresh_from_db()
    assert reward.stock is None and _account(customer).balance == 0


def test_per_member_limit_counts_quantities_and_ignores_cancelled(customer, give):
    give(customer, 1000)
    reward = RewardFactory(cost_points=10, per_member_limit=3)
    first = reward_redeem(customer=customer, reward=reward, quantity=2, key="l1")
    before = _state(customer, reward)
    with pytest.raises(LimitReached):
        reward_redeem(customer=customer, reward=reward, quantity=2, key="l2")
    assert _state(customer, reward) == before
    reward_redeem(customer=customer, reward=reward, quantity=1, key="l3")
    with pytest.raises(LimitReached):
        reward_redeem(customer=customer, reward=reward, key="l4")
    redemption_cancel(redemption=first)
    reward_redeem(customer=customer, reward=reward, quantity=2, key="l5")
    assert _account(customer).balance == 1000 - 30


def test_minimum_tier_and_active_window_are_enforced(customer, give):
    give(customer, 1000)
    member = TierFactory(slug="member", rank=0)
    gold = TierFactory(slug="gold", rank=2)
    LoyaltyAccount.objects.filter(customer=customer).update(tier=member)
    now = timezone.now()
    refused = [
        RewardFactory(min_tier=gold),
        RewardFactory(starts_at=now + dt.timedelta(days=1)),
        RewardFactory(ends_at=now - dt.timedelta(days=1)),
        RewardFactory(is_active=False),
    ]
    before = _state(customer)
    for i, reward in enumerate(refused):
        with pytest.raises(NotEligible):
            reward_redeem(customer=customer, reward=reward, key=f"t{i}")
    assert _state(customer) == before
    LoyaltyAccount.objects.filter(customer=customer).update(tier=gold)
    assert reward_redeem(customer=customer, reward=refused[0], key="t-ok").points == 100


def test_the_same_key_returns_the_first_redemption_and_spends_once(customer, give):
    give(customer, 500)
    reward = RewardFactory(cost_points=100, stock=10)
    first = reward_redeem(customer=customer, reward=reward, key="same")
    again = reward_redeem(customer=customer, reward=reward, key="same")
    assert again.pk == first.pk
    assert _account(customer).balance == 400
    assert Reward.objects.get(pk=reward.pk).stock == 9
    assert PointsTransaction.objects.filter(kind=TxKind.REDEEM).count() == 1


def test_the_same_key_for_another_member_is_a_conflict_that_reveals_nothing(customer, give):
    voucher = RewardFactory(kind="voucher", cost_points=100, coupon_kind="fixed", coupon_value=5)
    give(customer, 500)
    first = reward_redeem(customer=customer, reward=voucher, key="shared-key")
    other = CustomerFactory()
    give(other, 500)
    before = _state(other, voucher)

    with pytest.raises(Conflict) as refused:
        reward_redeem(customer=other, reward=voucher, key="shared-key")

    assert refused.value.code == "idempotency_conflict"
    assert first.voucher_code not in str(refused.value) and not refused.value.extra
    assert _state(other, voucher) == before
    assert Coupon.objects.filter(owner=other).count() == 0


@pytest.mark.parametrize("change", ["reward", "quantity"])
def test_the_same_key_for_another_reward_or_quantity_is_a_conflict(customer, give, change):
    give(customer, 1000)
    reward = RewardFactory(cost_points=100, stock=10)
    reward_redeem(customer=customer, reward=reward, key="k-same")
    before = _state(customer, reward)
    other_reward, quantity = (
        (RewardFactory(cost_points=100), 1) if change == "reward" else (reward, 2)
    )

    with pytest.raises(Conflict) as refused:
        reward_redeem(customer=customer, reward=other_reward, quantity=quantity, key="k-same")

    assert refused.value.code == "idempotency_conflict"
    assert _state(customer, reward) == before


def test_quantity_outside_1_to_100_is_refused(customer, give):
    give(customer, 500)
    before = _state(customer)
    for quantity in (0, 101):
        with pytest.raises(ValidationFailed):
            reward_redeem(customer=customer, reward=RewardFactory(), quantity=quantity, key="q")
    assert _state(customer) == before


def test_voucher_issues_an_owned_coupon_at_once(customer, give):
    give(customer, 500)
    reward = RewardFactory(
        kind="voucher",
        cost_points=200,
        coupon_kind="fixed",
        coupon_value=Decimal("20.00"),
        coupon_min_spend=Decimal("100.00"),
        coupon_valid_days=30,
    )
    redemption = reward_redeem(customer=customer, reward=reward, key="v1")
    coupon = Coupon.objects.get(redemption=redemption)
    assert redemption.status == RedemptionStatus.FULFILLED and redemption.fulfilled_at
    assert redemption.voucher_code == coupon.code
    assert (coupon.owner, coupon.kind, coupon.value, coupon.min_spend, coupon.max_uses) == (
        customer,
        "fixed",
        Decimal("20.00"),
        Decimal("100.00"),
        1,
    )
    assert (coupon.valid_until - coupon.valid_from).days == 30


def test_cash_off_with_quantity_gives_one_coupon_usable_that_often(customer, give):
    give(customer, 500)
    reward = RewardFactory(kind="cash_off", cost_points=100, coupon_value=Decimal(5))
    redemption = reward_redeem(customer=customer, reward=reward, quantity=3, key="c3")
    coupon = redemption.coupon
    assert (coupon.kind, coupon.max_uses, coupon.max_uses_per_customer) == ("fixed", 3, 3)


def test_donation_is_fulfilled_and_physical_waits_for_fulfilment(customer, give, agent):
    give(customer, 500)
    donation = reward_redeem(customer=customer, reward=RewardFactory(kind="donation"), key="d")
    gift = reward_redeem(customer=customer, reward=RewardFactory(kind="physical"), key="p")
    assert donation.status == RedemptionStatus.FULFILLED
    assert gift.status == RedemptionStatus.REQUESTED
    assert not Coupon.objects.exists()
    redemption_fulfil(redemption=gift, actor=agent, notes="Shipped SF123")
    gift.refresh_from_db()
    assert gift.status == RedemptionStatus.FULFILLED and gift.fulfilment_notes == "Shipped SF123"
    event = AuditEvent.objects.get(action="redemption.fulfil")
    assert event.actor == agent and event.after == {"status": "fulfilled"}
    with pytest.raises(Conflict):
        redemption_fulfil(redemption=gift, actor=agent)
    assert AuditEvent.objects.filter(action="redemption.fulfil").count() == 1


def test_staff_redemption_is_audited(customer, give, agent):
    give(customer, 500)
    reward_redeem(customer=customer, reward=RewardFactory(), key="s", actor=agent, channel="store")
    event = AuditEvent.objects.get(action="reward.redeem")
    assert event.before == {"balance": 500} and event.after["balance"] == 400


def test_cancel_restores_the_same_lots_with_their_expiry(customer, give, agent):
    give(customer, 100, days_ago=300)
    give(customer, 100, days_ago=100)
    lots_before = list(
        _account(customer).lots.order_by("pk").values_list("pk", "remaining", "expires_at")
    )
    reward = RewardFactory(cost_points=150, stock=4)
    redemption = reward_redeem(customer=customer, reward=reward, key="c")
    redemption_cancel(redemption=redemption, actor=agent, reason="Changed mind")
    redemption.refresh_from_db()
    assert redemption.status == RedemptionStatus.CANCELLED and redemption.cancelled_at
    assert (
        list(_account(customer).lots.order_by("pk").values_list("pk", "remaining", "expires_at"))
        == lots_before
    )
    assert set(_account(customer).lots.values_list("status", flat=True)) == {LotStatus.AVAILABLE}
    reverse = PointsTransaction.objects.get(kind=TxKind.REVERSE)
    assert (reverse.points, reverse.idempotency_key) == (150, f"redemption:{redemption.pk}:cancel")
    assert _account(customer).balance == 200 and Reward.objects.get(pk=reward.pk).stock == 4
    event = AuditEvent.objects.get(action="redemption.cancel")
    assert event.actor == agent and event.before["status"] == "requested"
    assert list(ledger_faults()) == []
    before = _state(customer, reward)
    with pytest.raises(Conflict):
        redemption_cancel(redemption=redemption, actor=agent)
    assert _state(customer, reward) == before


def test_cancel_of_an_unused_voucher_switches_the_coupon_off(customer, give, store):
    give(customer, 500)
    reward = RewardFactory(kind="voucher", coupon_kind="fixed", coupon_value=Decimal(10))
    redemption = reward_redeem(customer=customer, reward=reward, key="v")
    redemption_cancel(redemption=redemption)
    coupon = Coupon.objects.get(redemption=redemption)
    assert not coupon.is_active and _account(customer).balance == 500


def test_a_used_voucher_cannot_be_cancelled(customer, give, store):
    give(customer, 500)
    reward = RewardFactory(kind="voucher", coupon_kind="fixed", coupon_value=Decimal(10))
    redemption = reward_redeem(customer=customer, reward=reward, key="v")
    coupon_redeem(
        code=redemption.voucher_code,
        customer=customer,
        store=store,
        order_external_id="O-9",
        order_total=Decimal(50),
    )
    before = _state(customer, reward)
    with pytest.raises(Conflict):
        redemption_cancel(redemption=redemption)
    assert _state(customer, reward) == before
    assert Coupon.objects.get(redemption=redemption).is_active


def test_fulfilled_physical_reward_cannot_be_cancelled(customer, give, agent):
    give(customer, 500)
    redemption = reward_redeem(customer=customer, reward=RewardFactory(), key="f")
    redemption_fulfil(redemption=redemption, actor=agent)
    with pytest.raises(Conflict):
        redemption_cancel(redemption=redemption, actor=agent)
    assert _account(customer).balance == 400


def test_cancel_after_the_lot_expired_returns_points_that_expire_once(customer, give):
    give(customer, 100, days_ago=300)  # expires in ~65 days
    redemption = reward_redeem(customer=customer, reward=RewardFactory(cost_points=60), key="e")
    later = timezone.now() + dt.timedelta(days=70)
    assert points_expire_due(as_of=later) == 1  # the 40 left expire
    redemption_cancel(redemption=redemption)
    account = _account(customer)
    assert account.balance == 60
    original, twin = account.lots.order_by("pk")
    assert (original.status, original.remaining) == (LotStatus.EXPIRED, 0)
    assert (twin.status, twin.remaining, twin.expires_at) == (
        LotStatus.AVAILABLE,
        60,
        original.expires_at,
    )
    assert list(ledger_faults()) == []
    assert points_expire_due(as_of=later) == 1
    assert points_expire_due(as_of=later) == 0
    assert _account(customer).balance == 0
    assert list(ledger_faults()) == []


def test_cancel_restores_to_a_lot_past_expiry_for_the_nightly_job(customer, give):
    give(customer, 100, days_ago=300)
    redemption = reward_redeem(customer=customer, reward=RewardFactory(cost_points=100), key="x")
    lot = PointsLot.objects.get()
    PointsLot.objects.filter(pk=lot.pk).update(expires_at=timezone.now() - dt.timedelta(days=1))
    redemption_cancel(redemption=redemption)
    lot.refresh_from_db()
    assert (lot.status, lot.remaining) == (LotStatus.AVAILABLE, 100)
    assert points_expire_due() == 1 and _account(customer).balance == 0
    assert list(ledger_faults()) == []


def test_member_catalogue_says_why_a_reward_cannot_be_redeemed(
    customer, give, django_assert_max_num_queries
):
    from apps.loyalty.selectors import reward_offers_for_member

    give(customer, 150)
    gold = TierFactory(slug="gold", rank=2)
    ok = RewardFactory(cost_points=100, name="A")
    dear = RewardFactory(cost_points=400, name="B")
    tiered = RewardFactory(cost_points=10, min_tier=gold, name="C")
    empty = RewardFactory(cost_points=10, stock=0, name="D")
    limited = RewardFactory(cost_points=10, per_member_limit=1, name="E")
    RewardFactory(is_active=False, name="F")
    reward_redeem(customer=customer, reward=limited, key="once")
    with django_assert_max_num_queries(4):
        offers = {o.reward.pk: o for o in reward_offers_for_member(customer=customer)}
    assert set(offers) == {ok.pk, dear.pk, tiered.pk, empty.pk, limited.pk}
    assert offers[ok.pk].can_redeem and offers[ok.pk].reason == ""
    assert offers[dear.pk].reason == "You need 260 more points."
    assert offers[tiered.pk].reason == "For Gold members and above."
    assert offers[empty.pk].reason == "Out of stock."
    assert not offers[limited.pk].can_redeem and offers[limited.pk].redeemed == 1
    assert offers[limited.pk].reason == "You have reached the limit for this reward."


def test_a_member_cancels_their_own_request_and_gets_the_points_back(customer, give):
    give(customer, 300)
    reward = RewardFactory(kind="physical", cost_points=200, stock=3)
    redemption = reward_redeem(customer=customer, reward=reward, key="m1")
    redemption_cancel_by_member(customer=customer, redemption=redemption)
    redemption.refresh_from_db()
    assert redemption.status == RedemptionStatus.CANCELLED
    assert _account(customer).balance == 300 and Reward.objects.get(pk=reward.pk).stock == 3
    assert list(ledger_faults()) == []


@pytest.mark.parametrize("case", ["fulfilled", "voucher", "another member"])
def test_a_member_cannot_cancel_what_is_not_theirs_to_cancel(customer, give, agent, case):
    from apps.core.exceptions import NotFound

    give(customer, 300)
    kind = "voucher" if case == "voucher" else "physical"
    reward = RewardFactory(kind=kind, cost_points=200, stock=3, coupon_value=Decimal(20))
    redemption = reward_redeem(customer=customer, reward=reward, key="m2")
    if case == "fulfilled":
        redemption_fulfil(redemption=redemption, actor=agent)
    who = CustomerFactory() if case == "another member" else customer
    before = _state(customer, reward)
    status = Redemption.objects.get(pk=redemption.pk).status

    with pytest.raises(NotFound if case == "another member" else Conflict):
        redemption_cancel_by_member(customer=who, redemption=redemption)

    assert _state(customer, reward) == before
    assert Redemption.objects.get(pk=redemption.pk).status == status
