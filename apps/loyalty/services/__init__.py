"""Loyalty services, split by concept; import them from this package."""

from .adjustments import adjustment_decide, points_adjust
from .earning import (
    AFTER_ORDER_HOOKS,
    EarnOutcome,
    bonus_award,
    order_earn,
    order_ingest,
    refund_clawback,
    settle_debt,
)
from .jobs import birthday_bonuses_award, points_expire_due, points_mature_due
from .tiers import qualifying_value, tier_evaluate, tier_review_due

__all__ = [
    "AFTER_ORDER_HOOKS",
    "EarnOutcome",
    "adjustment_decide",
    "birthday_bonuses_award",
    "bonus_award",
    "order_earn",
    "order_ingest",
    "points_adjust",
    "points_expire_due",
    "points_mature_due",
    "qualifying_value",
    "refund_clawback",
    "settle_debt",
    "tier_evaluate",
    "tier_review_due",
]
