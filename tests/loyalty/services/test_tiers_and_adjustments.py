import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from apps.core.exceptions import ValidationFailed
from apps.core.models import AuditEvent
from apps.loyalty.enums import AdjustmentStatus, ExpiryPolicy, TxKind
from apps.loyalty.exceptions import AdjustmentNotAllowed, InsufficientPoints
from apps.loyalty.ledger import expiry_for
from apps.loyalty.models import (
    LoyaltyAccount,
    PointsLot,
    PointsTransaction,
    Programme,
    Tier,
    TierHistory,
)
from apps.loyalty.selectors import Liability, liability_report, points_summary
from apps.loyalty.services import (
    adjustment_decide,
    bonus_award,
    points_adjust,
    points_expire_due,
    redemption_cancel,
    reward_redeem,
    tier_create,
    tier_review_due,
)
from apps.loyalty.verification import ledger_faults
from tests.conftest import make_staff
from tests.loyalty.factories import RewardFactory, TierFactory

pytestmark = pytest.mark.django_db


def _account(customer):
    return LoyaltyAccount.objects.select_related("tier").get(customer=customer)


def test_summary_shows_what_is_left_to_the_next_tier(programme, tiers, customer, buy):
    buy(customer, "600", days_ago=30)
    summary = points_summary(customer=customer)
    assert summary.tier.slug == "member" and summary.next_tier.slug == "silver"
    assert (summary.to_next_tier, summary.progress_percent) == (Decimal(400), 60)


def test_downgrade_waits_for_the_review_date_and_grace(programme, tiers, customer, buy):
    buy(customer, "1200", days_ago=300)
    account = _account(customer)
    assert account.tier.slug == "silver"
    review = account.tier_review_at
    # Spend falls out of the window, but before review + grace nothing changes.
    assert tier_review_due(as_of=review + dt.timedelta(days=programme.tier_grace_days - 1)) == 0
    assert _account(customer).tier.slug == "silver"
    LoyaltyAccount.objects.filter(pk=account.pk).update(
        tier_review_at=timezone.localdate() - dt.timedelta(days=40)
    )
    assert tier_review_due() == 1
    account = _account(customer)
    assert account.tier.slug == "silver"  # 1200 in the window ≥ retention 800: kept
    LoyaltyAccount.objects.filter(pk=account.pk).update(
        tier_review_at=timezone.localdate() - dt.timedelta(days=40)
    )
    from apps.customers.models import Order

    Order.objects.update(placed_at=timezone.now() - dt.timedelta(days=500))
    assert tier_review_due() == 1
    account = _account(customer)
    assert account.tier.slug == "member" and account.tier_review_at is None
    assert (
        TierHistory.objects.filter(account=account).first().reason.startswith("Below the retention")
    )


def test_small_adjustment_applies_at_once_and_is_audited(programme, customer, agent):
    adjustment = points_adjust(customer=customer, points=100, reason="Goodwill", actor=agent)
    assert adjustment.status == AdjustmentStatus.APPROVED
    assert _account(customer).balance == 100
    event = AuditEvent.objects.get(action="points.adjust")
    assert event.actor == agent and event.after["balance"] == 100


def test_large_adjustment_waits_for_another_manager(programme, customer, agent, manager):
    adjustment = points_adjust(
        customer=customer, points=programme.adjustment_limit + 1, reason="Lost card", actor=agent
    )
    assert adjustment.status == AdjustmentStatus.PENDING and _account(customer).balance == 0
    with pytest.raises(AdjustmentNotAllowed):
        adjustment_decide(adjustment=adjustment, approve=True, actor=agent)
    adjustment_decide(adjustment=adjustment, approve=True, actor=manager)
    assert _account(customer).balance == programme.adjustment_limit + 1
    with pytest.raises(ValidationFailed):
        adjustment_decide(adjustment=adjustment, approve=True, actor=manager)
    assert _account(customer).balance == programme.adjustment_limit + 1


def test_managers_cannot_approve_their_own_requests(programme, customer):
    from apps.accounts.roles import MANAGER, SUPPORT_AGENT

    requester = make_staff(SUPPORT_AGENT)
    manager = make_staff(MANAGER)
    pending = points_adjust(customer=customer, points=10_000, reason="x", actor=requester)
    requester.groups.add(*manager.groups.all())
    requester = type(requester).objects.get(pk=requester.pk)  # fresh permission cache
    with pytest.raises(AdjustmentNotAllowed):
        adjustment_decide(adjustment=pending, approve=True, actor=requester)
    assert _account(customer).balance == 0


def test_negative_adjustment_beyond_balance_changes_nothing(programme, customer, agent):
    points_adjust(customer=customer, points=50, reason="x", actor=agent)
    before = PointsTransaction.objects.count()
    with pytest.raises(InsufficientPoints):
        points_adjust(customer=customer, points=-51, reason="y", actor=agent)
    assert PointsTransaction.objects.count() == before and _account(customer).balance == 50


def test_marketing_cannot_adjust_points(programme, customer, marketer):
    with pytest.raises(AdjustmentNotAllowed):
        points_adjust(customer=customer, points=5, reason="x", actor=marketer)
    assert not PointsTransaction.objects.exists()


def test_debits_take_the_soonest_expiring_points_first(programme, customer, buy, agent):
    buy(customer, "100", days_ago=100)  # expires sooner
    buy(customer, "100", days_ago=50)
    points_adjust(customer=customer, points=-150, reason="x", actor=agent)
    remaining = list(PointsLot.objects.order_by("expires_at").values_list("remaining", flat=True))
    assert remaining == [0, 50]
    assert list(ledger_faults()) == []


# --- tier entry gift ---------------------------------------------------------------------------


def _gifts(account) -> list[tuple[int, str]]:
    return list(
        PointsTransaction.objects.filter(
            account=account, idempotency_key__startswith="bonus:tier-gift:"
        )
        .order_by("pk")
        .values_list("points", "reason")
    )


def test_entry_gift_is_awarded_once_on_upgrade(programme, tiers, customer, buy):
    Tier.objects.filter(slug="silver").update(entry_gift_points=250)
    buy(customer, "1200", days_ago=30)  # qualifies for Silver (threshold 1000)
    account = _account(customer)
    assert account.tier.slug == "silver"
    assert _gifts(account) == [(250, "Welcome gift for Silver")]
    assert account.balance == 1200 + 250

    buy(customer, "100", days_ago=20)  # still Silver: no second gift
    account = _account(customer)
    assert _gifts(account) == [(250, "Welcome gift for Silver")]
    assert account.balance == 1200 + 250 + 125  # 100 × Silver's 1.25
    assert list(ledger_faults()) == []


def test_entry_gift_is_not_given_again_after_a_downgrade_and_requalifying(
    programme, tiers, customer, buy
):
    Tier.objects.filter(slug="silver").update(entry_gift_points=250)
    buy(customer, "1200", days_ago=30)
    account = _account(customer)
    from apps.customers.models import Order

    Order.objects.update(placed_at=timezone.now() - dt.timedelta(days=500))
    LoyaltyAccount.objects.filter(pk=account.pk).update(
        tier_review_at=timezone.localdate() - dt.timedelta(days=40)
    )
    assert tier_review_due() == 1 and _account(customer).tier.slug == "member"

    buy(customer, "1100", days_ago=1)  # qualifies again
    account = _account(customer)
    assert account.tier.slug == "silver"
    assert _gifts(account) == [(250, "Welcome gift for Silver")]  # once per member and tier


def test_jumping_two_tiers_gives_only_the_reached_tiers_gift(programme, tiers, customer, buy):
    Tier.objects.filter(slug="silver").update(entry_gift_points=250)
    Tier.objects.filter(slug="gold").update(entry_gift_points=1000)
    buy(customer, "6000", days_ago=30)
    account = _account(customer)
    assert account.tier.slug == "gold"
    assert _gifts(account) == [(1000, "Welcome gift for Gold")]


# --- clearing expiry: the end of the Nth calendar year, local time ------------------------------

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.mark.parametrize(
    ("years", "earned_at", "expires_at"),
    [
        # N=1: points earned in 2026 expire at the end of 31 Dec 2027, local time.
        (
            1,
            dt.datetime(2026, 3, 15, 10, 0, tzinfo=SHANGHAI),
            dt.datetime(2027, 12, 31, 23, 59, 59),
        ),
        (1, dt.datetime(2026, 1, 1, 0, 0, tzinfo=SHANGHAI), dt.datetime(2027, 12, 31, 23, 59, 59)),
        (
            1,
            dt.datetime(2026, 12, 31, 23, 59, tzinfo=SHANGHAI),
            dt.datetime(2027, 12, 31, 23, 59, 59),
        ),
        # 20:00 UTC on 31 Dec 2026 is already 1 Jan 2027 in Shanghai: a 2027 point.
        (1, dt.datetime(2026, 12, 31, 20, 0, tzinfo=dt.UTC), dt.datetime(2028, 12, 31, 23, 59, 59)),
        (2, dt.datetime(2026, 7, 1, 12, 0, tzinfo=SHANGHAI), dt.datetime(2028, 12, 31, 23, 59, 59)),
        (
            3,
            dt.datetime(2024, 2, 29, 12, 0, tzinfo=SHANGHAI),
            dt.datetime(2027, 12, 31, 23, 59, 59),
        ),
    ],
)
def test_clearing_expiry_is_the_end_of_the_nth_calendar_year(years, earned_at, expires_at):
    programme = Programme(expiry_policy=ExpiryPolicy.END_OF_YEAR, expiry_years=years)
    got = expiry_for(earned_at=earned_at, programme=programme)
    assert got == expires_at.replace(tzinfo=SHANGHAI)
    assert got.astimezone(dt.UTC) == expires_at.replace(tzinfo=dt.UTC) - dt.timedelta(hours=8)


def test_clearing_points_stay_until_the_last_second_of_the_year_then_expire_once(customer):
    Programme.objects.create(expiry_policy=ExpiryPolicy.END_OF_YEAR, expiry_years=1)
    earned = dt.datetime(2025, 6, 1, 9, 30, tzinfo=SHANGHAI)
    bonus_award(customer=customer, points=300, key="test:clearing", reason="test", at=earned)
    lot = PointsLot.objects.get(account__customer=customer)
    assert lot.expires_at == dt.datetime(2026, 12, 31, 23, 59, 59, tzinfo=SHANGHAI)

    assert points_expire_due(as_of=dt.datetime(2026, 12, 31, 23, 59, 58, tzinfo=SHANGHAI)) == 0
    assert _account(customer).balance == 300
    assert points_expire_due(as_of=dt.datetime(2027, 1, 1, 0, 0, tzinfo=SHANGHAI)) == 1
    assert points_expire_due(as_of=dt.datetime(2027, 1, 2, 0, 0, tzinfo=SHANGHAI)) == 0
    account = _account(customer)
    assert account.balance == 0
    expired = PointsTransaction.objects.get(account=account, kind=TxKind.EXPIRE)
    assert (expired.points, expired.idempotency_key) == (-300, f"lot:{lot.pk}:expire")
    assert list(ledger_faults()) == []


# --- liability report: breakage ----------------------------------------------------------------


def test_liability_report_counts_breakage_as_expired_over_closed_points(programme, customer, buy):
    # 1,000 points earned 400 days ago expire (rolling 12 months); 500 recent ones stay.
    bonus_award(
        customer=customer,
        points=1000,
        key="test:old",
        reason="old",
        at=timezone.now() - dt.timedelta(days=400),
    )
    bonus_award(customer=customer, points=500, key="test:new", reason="new")
    assert points_expire_due() == 1
    # 300 redeemed and kept; 100 redeemed and cancelled (reversed): 300 redeemed net.
    reward_redeem(customer=customer, reward=RewardFactory(cost_points=300), key="r1")
    cancelled = reward_redeem(customer=customer, reward=RewardFactory(cost_points=100), key="r2")
    redemption_cancel(redemption=cancelled, reason="changed mind")
    buy(customer, "250", days_ago=1)  # 250 pending: not issued yet, not outstanding

    report = liability_report()

    assert report == Liability(
        outstanding=200,
        pending=250,
        value=Decimal("2.00"),  # 200 × 0.01
        pending_value=Decimal("2.50"),
        issued=1500,
        redeemed=300,
        expired=1000,
        breakage_rate=Decimal("0.7692"),  # 1000 / (300 + 1000)
        accounts=1,
    )


def test_liability_breakage_is_zero_before_anything_is_redeemed_or_expired(programme, customer):
    bonus_award(customer=customer, points=400, key="test:only", reason="only")
    report = liability_report()
    assert (report.outstanding, report.issued, report.breakage_rate) == (400, 400, Decimal(0))


def test_liability_report_since_counts_only_later_movements(programme, customer):
    bonus_award(
        customer=customer,
        points=1000,
        key="test:old",
        reason="old",
        at=timezone.now() - dt.timedelta(days=400),
    )
    points_expire_due()  # the expiry row is written now
    since = timezone.now()
    bonus_award(customer=customer, points=600, key="test:new", reason="new")
    reward_redeem(customer=customer, reward=RewardFactory(cost_points=200), key="r1")
    report = liability_report(since=since)
    assert (report.issued, report.redeemed, report.expired, report.breakage_rate) == (
        600,
        200,
        0,
        Decimal(0),
    )
    assert report.outstanding == 400  # the balance is always "now"


# --- tier_create -------------------------------------------------------------------------------


def test_tier_create_adds_the_tier_and_audits_every_value(programme, tiers, manager):
    tier = tier_create(
        actor=manager,
        name="Platinum",
        slug="platinum",
        rank=3,
        threshold=Decimal(20000),
        retention_threshold=Decimal(16000),
        earn_multiplier=Decimal(2),
        entry_gift_points=1000,
    )
    assert Tier.objects.order_by("rank").last() == tier
    event = AuditEvent.objects.get(action="tier.create")
    assert (event.actor, event.target_id, event.before) == (manager, str(tier.pk), None)
    assert event.after == {
        "name_en": "Platinum",
        "name_zh_hans": None,
        "slug": "platinum",
        "rank": 3,
        "metric": "spend",
        "threshold": "20000.00",
        "retention_threshold": "16000.00",
        "window_months": 12,
        "earn_multiplier": "2.00",
        "benefits_en": None,
        "benefits_zh_hans": None,
        "entry_gift_points": 1000,
        "color": "#6c757d",
    }


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        ({"slug": "gold", "rank": 3}, "slug", "A tier with this code already exists."),
        ({"slug": "new", "rank": 2}, "rank", "Another tier already has this rank."),
        (
            {"slug": "new", "rank": 3, "threshold": Decimal(4999)},
            "threshold",
            "The threshold must be at least that of Gold (5000.00).",
        ),
        (
            {"slug": "new", "rank": 2, "threshold": Decimal(6000)},
            "rank",
            "Another tier already has this rank.",
        ),
        (
            {"slug": "new", "rank": 3, "threshold": Decimal(6000), "retention_threshold": 7000},
            "retention_threshold",
            "The threshold to keep a tier cannot exceed the one to reach it.",
        ),
    ],
)
def test_tier_create_refuses_what_does_not_fit_and_changes_nothing(
    programme, tiers, manager, values, field, message
):
    before = list(Tier.objects.order_by("pk").values())
    values = {"threshold": Decimal(6000), "retention_threshold": Decimal(0), **values}
    with pytest.raises(ValidationFailed) as refused:
        tier_create(actor=manager, name="New", **values)
    assert (refused.value.extra["field"], refused.value.message) == (field, message)
    assert list(Tier.objects.order_by("pk").values()) == before
    assert not AuditEvent.objects.filter(action="tier.create").exists()


def test_tier_create_between_two_tiers_must_stay_below_the_next_one(programme, manager):
    TierFactory(slug="member", name="Member", rank=0)
    TierFactory(slug="gold", name="Gold", rank=10, threshold=Decimal(5000))
    with pytest.raises(ValidationFailed) as refused:
        tier_create(actor=manager, name="Silver", slug="silver", rank=5, threshold=Decimal(6000))
    assert refused.value.message == "The threshold cannot exceed that of Gold (5000.00)."
    silver = tier_create(
        actor=manager, name="Silver", slug="silver", rank=5, threshold=Decimal(2000)
    )
    assert list(Tier.objects.order_by("rank").values_list("slug", flat=True)) == [
        "member",
        "silver",
        "gold",
    ]
    assert silver.threshold == Decimal(2000)


def test_tier_create_does_not_compare_thresholds_of_another_metric(programme, tiers, manager):
    club = tier_create(
        actor=manager,
        name="Club",
        slug="club",
        rank=3,
        metric="points",
        threshold=Decimal(3000),  # points, not comparable with Gold's 5000 spend
    )
    assert (club.metric, club.threshold) == ("points", Decimal(3000))
