"""A member whose ledger holds a row of every kind, each written by the service that writes it
in production (descriptions, history filters, exports and query budgets are tested on it)."""

import datetime as dt
from decimal import Decimal

from django.utils import timezone

from apps.customers.models import Customer
from apps.loyalty.enums import EarnEvent
from apps.loyalty.models import LoyaltyAccount, PointsTransaction
from apps.loyalty.services import (
    bonus_award,
    order_ingest,
    points_adjust,
    points_expire_due,
    points_mature_due,
    redemption_cancel,
    redemption_cancel_by_member,
    refund_ingest,
    reward_redeem,
)
from apps.loyalty.services.bonuses import event_bonus_award
from tests.customers.factories import StoreFactory
from tests.loyalty.factories import BadgeFactory, EarnRuleFactory, RewardFactory, TierFactory

# Earned in May 2025 and expired a year later (rolling 12 months), whatever today is.
EXPIRED_EARNED_AT = dt.datetime(2025, 5, 10, 12, 0, tzinfo=dt.UTC)


def programme_and_tiers():
    """Gold multiplies by 1.2; a review-bonus rule, a first-purchase badge with a bonus."""
    from tests.loyalty.factories import ProgrammeFactory

    ProgrammeFactory(
        signup_bonus=50,
        birthday_bonus=88,
        pending_days=14,
        expiry_months=12,
        points_per_currency_unit=Decimal(1),
    )
    tiers = {
        "member": TierFactory(slug="member", name="Member", rank=0),
        "gold": TierFactory(
            slug="gold",
            name="Gold",
            rank=1,
            threshold=Decimal(10**9),
            earn_multiplier=Decimal("1.2"),
        ),
    }
    EarnRuleFactory(
        kind="event",
        event=EarnEvent.REVIEW_POSTED,
        multiplier=Decimal(1),
        bonus_points=30,
        name="Review reward",
    )
    BadgeFactory(slug="first-purchase", name="First purchase", rule="orders_count", bonus_points=20)
    return tiers


def every_kind(customer: Customer, *, actor, start: int = 0, n: int = 1) -> None:
    """``n`` rounds of: an order earned as Gold ×1.2 (available) and its refund of ¥80, an order
    that is pending then matures and one that stays pending (until the next round matures it),
    a redemption, one cancelled by the member and one by staff, an expiry of points earned in
    May 2025, an event bonus, a staff adjustment and a legacy-keyed birthday bonus. Each round
    holds every kind, so the newest page looks alike however many rounds there are. The first
    order earns the first-purchase badge."""
    store = StoreFactory(code="sh-njr", name="Shanghai Nanjing Road")
    gold = TierFactory(slug="gold")
    now = timezone.now()
    for i in range(start, start + n):
        LoyaltyAccount.objects.filter(customer=customer).update(tier=gold)
        order, _, _ = order_ingest(
            store=store,
            external_id=f"{i:06d}",
            customer=customer,
            placed_at=now - dt.timedelta(days=30, minutes=i),
            total=Decimal("132.00"),
        )
        refund_ingest(order=order, refund_id=f"R{i}", amount=Decimal("80.00"))
        order_ingest(
            store=store,
            external_id=f"P{i:05d}",
            customer=customer,
            placed_at=now - dt.timedelta(days=3, minutes=i),
            total=Decimal("50.00"),
        )
        reward = RewardFactory(name=f"Tea set {i}", slug=f"tea-set-{i}", cost_points=10)
        kept = reward_redeem(customer=customer, reward=reward, key=f"world:{i}:kept")
        withdrawn = reward_redeem(customer=customer, reward=reward, key=f"world:{i}:withdrawn")
        redemption_cancel_by_member(customer=customer, redemption=withdrawn)
        refused = reward_redeem(customer=customer, reward=reward, key=f"world:{i}:refused")
        redemption_cancel(redemption=refused, actor=actor, reason="Out of stock at the store")
        assert kept.pk
        bonus_award(
            customer=customer, points=40, key=f"world:{i}:old", reason="x", at=EXPIRED_EARNED_AT
        )
        event_bonus_award(customer=customer, event=EarnEvent.REVIEW_POSTED, reference=f"rev-{i}")
        points_adjust(customer=customer, points=25, reason=f"Broken cup {i}", actor=actor)
        # A row from before ``detail``: only its key says it was a birthday bonus.
        bonus_award(customer=customer, points=88, key=f"bonus:birthday:{customer.pk}:{3000 + i}",
                    reason="Happy birthday!")  # fmt: skip
        points_expire_due(as_of=now)
        # This round's pending order matures (its return window has passed by then), and one
        # more order stays pending until the next round.
        points_mature_due(as_of=now + dt.timedelta(days=15))
        order_ingest(
            store=store,
            external_id=f"N{i:05d}",
            customer=customer,
            placed_at=now - dt.timedelta(minutes=i),
            total=Decimal("20.00"),
        )


def kinds_of(customer: Customer) -> set[str]:
    return set(
        PointsTransaction.objects.filter(account__customer=customer).values_list("kind", flat=True)
    )
