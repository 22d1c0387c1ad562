"""Merging duplicate customers (``customer_merge``): everything moves to the survivor, both
ledger chains still verify, the points move as one audited transfer pair, consents keep their
history with the latest winning, the tier is re-evaluated, refusals write nothing, and the old
member number keeps resolving."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from apps.core.exceptions import ValidationFailed
from apps.core.models import AuditEvent
from apps.customers.exceptions import MergeNotAllowed, MergeRefused
from apps.customers.importing.rows import customer_ids_by_number
from apps.customers.models import ConsentRecord, Customer, Interaction, Order, PortalMessage
from apps.customers.selectors import consent_current, customer_get, customer_list, customer_lookup
from apps.customers.services import (
    consent_record,
    customer_erase,
    customer_merge,
    unsubscribe_apply,
    unsubscribe_token_make,
)
from apps.customers.services.orders import order_record
from apps.loyalty.enums import AdjustmentStatus, LotStatus, RedemptionStatus, TxKind
from apps.loyalty.models import (
    Coupon,
    CustomerBadge,
    LoyaltyAccount,
    PointsAdjustment,
    PointsLot,
    PointsTransaction,
    Redemption,
    Referral,
    ReferralCode,
)
from apps.loyalty.services import (
    bonus_award,
    coupon_issue,
    order_ingest,
    points_adjust,
    points_mature_due,
    redemption_cancel,
    referral_register,
    refund_ingest,
    reward_redeem,
)
from apps.loyalty.verification import ledger_faults
from tests.accounts.factories import UserFactory
from tests.conftest import with_verified_email
from tests.customers.factories import CustomerFactory, InteractionFactory, StoreFactory, TagFactory
from tests.loyalty.factories import BadgeFactory, ProgrammeFactory, RewardFactory, TierFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def programme(db):
    return ProgrammeFactory(adjustment_limit=1000)


@pytest.fixture
def tiers(db):
    return {
        "member": TierFactory(slug="member", rank=0),
        "gold": TierFactory(
            slug="gold", rank=1, threshold=Decimal(500), retention_threshold=Decimal(400)
        ),
    }


@pytest.fixture
def shop(db):
    return StoreFactory(code="merge-shop")


@pytest.fixture
def buy(shop):
    counter = {"n": 0}

    def _buy(customer, total, *, days_ago=0):
        counter["n"] += 1
        order, _created, _outcome = order_ingest(
            store=shop,
            external_id=f"M-{counter['n']}",
            customer=customer,
            placed_at=timezone.now() - dt.timedelta(days=days_ago),
            total=Decimal(total),
        )
        return order

    return _buy


def _account(customer) -> LoyaltyAccount:
    return LoyaltyAccount.objects.select_related("tier").get(customer=customer)


def _merge(source, target, actor, reason="Same person: till card and portal sign-up"):
    return customer_merge(source=source, target=target, actor=actor, reason=reason)


# --- what moves ---------------------------------------------------------------------------------


def test_merge_moves_everything_and_both_ledger_chains_verify(manager, programme, tiers, buy, shop):
    source, target = CustomerFactory(), CustomerFactory()
    old_order = buy(source, "300.00", days_ago=30)  # available: 300 points
    buy(source, "40.00", days_ago=2)  # pending: 40 points
    bonus_award(customer=target, points=50, key="t:target", reason="test")
    redemption = reward_redeem(
        customer=source, reward=RewardFactory(cost_points=100, kind="physical"), key="r1"
    )
    coupon = coupon_issue(owner=source, kind="fixed", value=Decimal(10))
    InteractionFactory(customer=source, summary="Called about a delivery")
    PortalMessage.objects.create(customer=source, subject="Welcome")
    source.tags.add(TagFactory(name="vip"))
    target.tags.add(TagFactory(name="newsletter"))
    before = _account(source)
    assert (before.balance, before.pending) == (200, 40)

    moved = _merge(source, target, manager)

    source.refresh_from_db()
    target.refresh_from_db()
    assert source.merged_into == target and source.merged_at is not None
    assert set(Order.objects.filter(customer=target).values_list("pk", flat=True)) >= {old_order.pk}
    assert not Order.objects.filter(customer=source).exists()
    src, dst = _account(source), _account(target)
    assert (src.balance, src.pending, src.debt) == (0, 0, 0)
    assert (dst.balance, dst.pending) == (250, 40)
    assert not PointsLot.objects.filter(account=src).exists()
    open_lots = PointsLot.objects.filter(account=dst, status=LotStatus.AVAILABLE)
    assert sum(open_lots.values_list("remaining", flat=True)) == 250
    assert Redemption.objects.get(pk=redemption.pk).account == dst
    assert Coupon.objects.get(pk=coupon.pk).owner == target
    assert Interaction.objects.filter(customer=target).count() == 1
    assert PortalMessage.objects.filter(customer=target, subject="Welcome").exists()
    assert set(target.tags.values_list("name", flat=True)) == {"vip", "newsletter"}
    assert list(ledger_faults()) == []
    assert moved["orders.orders"] == 2
    assert moved["loyalty_account.points"] == 200
    assert moved["loyalty_account.pending_points"] == 40
    assert moved["loyalty_account.redemptions"] == 1

    # The moved state keeps working: a refund of a moved order claws back on the survivor,
    # pending points mature there, a moved redemption cancels back into the survivor's lots.
    refund_ingest(order=old_order, refund_id="R-1", amount=Decimal("100.00"))
    points_mature_due(as_of=timezone.now() + dt.timedelta(days=30))
    redemption_cancel(redemption=redemption, actor=manager, reason="test")
    dst = _account(target)
    assert (dst.balance, dst.pending) == (250 - 100 + 40 + 100, 0)
    assert _account(source).balance == 0
    assert list(ledger_faults()) == []


def test_the_points_move_as_one_audited_transfer_pair(manager, programme, buy):
    source, target = CustomerFactory(), CustomerFactory()
    buy(source, "120.00", days_ago=30)
    buy(target, "10.00", days_ago=30)

    _merge(source, target, manager)

    pair = PointsTransaction.objects.filter(kind=TxKind.TRANSFER).order_by("pk")
    out, into = list(pair)
    assert (out.account.customer_id, out.points, out.balance_after) == (source.pk, -120, 0)
    assert (into.account.customer_id, into.points, into.balance_after) == (target.pk, 120, 130)
    assert out.idempotency_key == f"merge:{source.pk}:out"
    assert into.idempotency_key == f"merge:{source.pk}:in"
    assert (out.actor, into.actor) == (manager, manager)
    assert into.source_ref == f"merge:{source.member_number}"
    # Each row extends its own account's chain.
    assert (
        out.prev_hash
        == PointsTransaction.objects.filter(account=out.account)
        .exclude(pk=out.pk)
        .latest("pk")
        .hash
    )
    event = AuditEvent.objects.get(action="points.transfer")
    assert event.actor == manager
    assert event.after["points"] == 120
    assert event.after["transactions"] == [out.pk, into.pk]
    assert event.before["balance"] == 10 and event.after["balance"] == 130
    assert list(ledger_faults()) == []


def test_merge_is_audited_on_both_customers_with_member_numbers_and_counts(manager, buy):
    ProgrammeFactory()
    source, target = CustomerFactory(), CustomerFactory()
    buy(source, "50.00", days_ago=30)

    _merge(source, target, manager, reason="Duplicate from the import")

    event = AuditEvent.objects.get(action="customer.merge")
    assert (event.actor, event.target_id) == (manager, str(target.pk))
    assert event.after["source"] == source.member_number
    assert event.after["target"] == target.member_number
    assert event.after["reason"] == "Duplicate from the import"
    assert event.after["moved"]["orders.orders"] == 1
    away = AuditEvent.objects.get(action="customer.merged_into")
    assert away.target_id == str(source.pk)


def test_consents_keep_their_history_and_the_latest_wins(manager):
    source, target = CustomerFactory(), CustomerFactory()
    earlier = timezone.now() - dt.timedelta(days=10)
    ConsentRecord.objects.create(
        customer=target, channel="email", purpose="marketing", granted=True, source="t", at=earlier
    )
    ConsentRecord.objects.create(
        customer=source,
        channel="email",
        purpose="marketing",
        granted=False,
        source="s",
        at=earlier + dt.timedelta(days=1),
    )
    ConsentRecord.objects.create(
        customer=target,
        channel="sms",
        purpose="marketing",
        granted=False,
        source="t",
        at=earlier + dt.timedelta(days=2),
    )
    ConsentRecord.objects.create(
        customer=source, channel="sms", purpose="marketing", granted=True, source="s", at=earlier
    )

    _merge(source, target, manager)

    assert ConsentRecord.objects.filter(customer=target).count() == 4
    current = consent_current(customer=target)
    assert current[("email", "marketing")].granted is False  # the source's later withdrawal
    assert current[("sms", "marketing")].granted is False  # the target's later withdrawal
    event = AuditEvent.objects.get(action="customer.merge")
    assert event.before["consents"] == {"email/marketing": True}
    assert event.after["consents"] == {"email/marketing": False}


def test_survivor_is_re_evaluated_on_the_joined_history(manager, programme, tiers, buy):
    source, target = CustomerFactory(), CustomerFactory()
    buy(source, "300.00", days_ago=20)
    buy(target, "250.00", days_ago=20)
    assert _account(target).tier == tiers["member"]

    _merge(source, target, manager)

    assert _account(target).tier == tiers["gold"]  # 550 spent in the window
    assert _account(source).tier is None


def test_a_higher_tier_of_the_source_carries_over_with_its_review_date(
    manager, programme, tiers, buy
):
    source, target = CustomerFactory(), CustomerFactory()
    buy(source, "600.00", days_ago=20)
    src = _account(source)
    assert src.tier == tiers["gold"]
    # Qualified long ago and kept it until review, with little spend now.
    Order.objects.filter(customer=source).update(placed_at=timezone.now() - dt.timedelta(days=900))
    review = timezone.localdate() + dt.timedelta(days=40)
    LoyaltyAccount.objects.filter(pk=src.pk).update(tier_review_at=review)

    _merge(source, target, manager)

    dst = _account(target)
    assert dst.tier == tiers["gold"] and dst.tier_review_at == review


def test_pending_adjustments_badges_referrals_and_codes_move(manager, agent, programme):
    source, target, friend = CustomerFactory(), CustomerFactory(), CustomerFactory()
    bonus_award(customer=source, points=10, key="t:src", reason="test")
    pending = points_adjust(customer=source, points=5000, reason="big goodwill", actor=agent)
    assert pending.status == AdjustmentStatus.PENDING
    both = BadgeFactory(slug="both")
    only_source = BadgeFactory(slug="only-source")
    CustomerBadge.objects.create(customer=source, badge=both)
    CustomerBadge.objects.create(customer=target, badge=both)
    CustomerBadge.objects.create(customer=source, badge=only_source)
    Referral.objects.create(referrer=source, referee=friend, code="X")
    ReferralCode.objects.create(customer=source, code="SRCCODE")

    _merge(source, target, manager)

    assert PointsAdjustment.objects.get(pk=pending.pk).account.customer == target
    assert set(
        CustomerBadge.objects.filter(customer=target).values_list("badge__slug", flat=True)
    ) == {
        "both",
        "only-source",
    }
    assert not CustomerBadge.objects.filter(customer=source).exists()
    assert Referral.objects.get(referee=friend).referrer == target
    assert ReferralCode.objects.get(code="SRCCODE").customer == target


def test_portal_review_tag_is_settled_and_blanks_are_filled(manager):
    review = TagFactory(name="portal-review")
    source = CustomerFactory(
        phone="+8613900000001", birth_date=dt.date(1990, 5, 4), city="Hangzhou"
    )
    target = CustomerFactory(phone="", birth_date=None, city="")
    target.tags.add(review)
    source.joined_at = timezone.now() - dt.timedelta(days=2000)
    source.save()

    _merge(source, target, manager)

    target.refresh_from_db()
    assert target.phone == "+8613900000001"
    assert target.birth_date == dt.date(1990, 5, 4)
    assert target.city == "Hangzhou"
    assert target.joined_at == source.joined_at
    assert "8613900000001" in target.search_text
    assert not target.tags.filter(name="portal-review").exists()


# --- portal logins ------------------------------------------------------------------------------


def test_the_sources_portal_login_moves_to_a_survivor_without_one(manager):
    user = with_verified_email(UserFactory(email="mover@example.org"))
    source, target = CustomerFactory(user=user), CustomerFactory()

    _merge(source, target, manager)

    target.refresh_from_db()
    source.refresh_from_db()
    assert target.user == user and source.user is None
    user.refresh_from_db()
    assert user.is_active


def test_when_both_have_a_login_the_survivors_stays_and_the_sources_is_closed(manager):
    kept = with_verified_email(UserFactory(email="kept@example.org"))
    closed = with_verified_email(UserFactory(email="closed@example.org"))
    source, target = CustomerFactory(user=closed), CustomerFactory(user=kept)

    _merge(source, target, manager)

    target.refresh_from_db()
    closed.refresh_from_db()
    assert target.user == kept
    assert not closed.is_active and not closed.has_usable_password()
    assert AuditEvent.objects.get(action="customer.merge").after["login_closed"] == closed.pk


# --- refusals -----------------------------------------------------------------------------------


def _state():
    return (
        AuditEvent.objects.count(),
        PointsTransaction.objects.count(),
        list(Customer.objects.order_by("pk").values_list("merged_into", "user")),
        list(Order.objects.order_by("pk").values_list("customer", flat=True)),
    )


def test_merging_a_customer_into_itself_is_refused(manager):
    customer = CustomerFactory()
    before = _state()
    with pytest.raises(MergeRefused) as exc:
        _merge(customer, customer, manager)
    assert exc.value.code == "merge_same_customer"
    assert _state() == before


def test_a_second_merge_of_the_same_pair_is_refused_cleanly(manager, programme, buy):
    source, target = CustomerFactory(), CustomerFactory()
    buy(source, "80.00", days_ago=30)
    _merge(source, target, manager)
    before = _state()

    for a, b in ((source, target), (target, source)):
        with pytest.raises(MergeRefused) as exc:
            _merge(Customer.objects.get(pk=a.pk), Customer.objects.get(pk=b.pk), manager)
        assert exc.value.code == "merge_already_merged"
    # Stale objects (loaded before the first merge) are refused under the lock too.
    with pytest.raises(MergeRefused):
        _merge(source, target, manager)
    assert _state() == before
    assert list(ledger_faults()) == []


def test_an_anonymised_customer_cannot_be_merged(manager):
    erased, other = CustomerFactory(), CustomerFactory()
    customer_erase(customer=erased, actor=manager)
    erased.refresh_from_db()
    before = _state()
    for a, b in ((erased, other), (other, erased)):
        with pytest.raises(MergeRefused) as exc:
            _merge(a, b, manager)
        assert exc.value.code == "merge_anonymised"
    assert _state() == before


def test_merge_needs_the_permission_and_a_reason(agent, manager):
    source, target = CustomerFactory(), CustomerFactory()
    before = _state()
    with pytest.raises(MergeNotAllowed):
        _merge(source, target, agent)
    with pytest.raises(ValidationFailed) as exc:
        _merge(source, target, manager, reason="   ")
    assert exc.value.extra["field"] == "reason"
    with pytest.raises(ValidationFailed):
        _merge(source, target, manager, reason="bell\x07")
    assert _state() == before


# --- the old member number ----------------------------------------------------------------------


def test_old_member_number_resolves_to_the_survivor_and_leaves_lists(manager):
    source, target = CustomerFactory(), CustomerFactory()
    _merge(source, target, manager)

    assert customer_get(member_number=source.member_number) == target
    assert list(customer_lookup(member_number=source.member_number)) == [target]
    assert list(customer_lookup(email=source.email)) == []
    assert source not in customer_list()
    assert target in customer_list()


def test_a_later_merge_of_the_survivor_re_points_earlier_duplicates(manager):
    first, second, third = CustomerFactory(), CustomerFactory(), CustomerFactory()
    _merge(first, second, manager)
    _merge(Customer.objects.get(pk=second.pk), third, manager)

    first.refresh_from_db()
    assert first.merged_into == third
    assert customer_get(member_number=first.member_number) == third


def test_an_order_for_a_stale_merged_customer_lands_on_the_survivor(manager, programme, shop):
    source, target = CustomerFactory(), CustomerFactory()
    stale = Customer.objects.get(pk=source.pk)
    _merge(source, target, manager)

    order, created = order_record(
        store=shop,
        external_id="LATE-1",
        customer=stale,
        placed_at=timezone.now(),
        total=Decimal("10.00"),
    )
    assert created and order.customer_id == target.pk


def test_an_old_unsubscribe_link_unsubscribes_the_survivor(manager):
    source, target = CustomerFactory(), CustomerFactory()
    consent_record(customer=target, channel="email", purpose="marketing", granted=True, source="t")
    token = unsubscribe_token_make(customer=source, channel="email", purpose="marketing")
    _merge(source, target, manager)

    customer, *_rest = unsubscribe_apply(token=token)

    assert customer == target
    assert consent_current(customer=target)[("email", "marketing")].granted is False


def test_erasing_the_survivor_erases_the_merged_away_duplicate_too(manager):
    source, target = CustomerFactory(), CustomerFactory()
    _merge(source, target, manager)

    customer_erase(customer=target, actor=manager)

    source.refresh_from_db()
    assert source.anonymized_at is not None and source.email == "" and source.last_name == ""
    assert AuditEvent.objects.filter(action="customer.erase").count() == 2


def test_pending_redemption_stays_fulfillable_after_the_merge(manager, programme):
    source, target = CustomerFactory(), CustomerFactory()
    bonus_award(customer=source, points=300, key="t:s", reason="test")
    redemption = reward_redeem(
        customer=source, reward=RewardFactory(cost_points=100, kind="physical"), key="r"
    )
    assert redemption.status == RedemptionStatus.REQUESTED
    _merge(source, target, manager)
    assert Redemption.objects.get(pk=redemption.pk).account.customer == target
    assert _account(target).balance == 200


def test_imported_orders_and_referral_codes_of_the_old_number_reach_the_survivor(manager):
    source, target = CustomerFactory(), CustomerFactory()
    ReferralCode.objects.create(customer=source, code="OLDCODE1")
    ReferralCode.objects.create(customer=target, code="NEWCODE1")
    _merge(source, target, manager)

    ids = dict(customer_ids_by_number([source.member_number, target.member_number]))
    assert ids == {source.member_number: target.pk, target.member_number: target.pk}
    friend = CustomerFactory()
    assert referral_register(referee=friend, code="OLDCODE1").referrer == target
