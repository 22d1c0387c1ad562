"""Loyalty services, split by concept; import them from this package."""

from .adjustments import adjustment_decide, points_adjust
from .bonuses import bonus_award, debt_settle, signup_bonus_award
from .clawback import refund_clawback, refund_ingest
from .earning import EarnOutcome, order_earn, order_ingest
from .earning_bulk import on_orders_imported, orders_earn_bulk
from .jobs import birthday_bonuses_award, points_expire_due, points_mature_due
from .tiers import qualifying_value, tier_create, tier_evaluate, tier_review_due

__all__ = [
    "EarnOutcome",
    "adjustment_decide",
    "birthday_bonuses_award",
    "bonus_award",
    "debt_settle",
    "on_orders_imported",
    "order_earn",
    "order_ingest",
    "orders_earn_bulk",
    "points_adjust",
    "points_expire_due",
    "points_mature_due",
    "qualifying_value",
    "refund_clawback",
    "refund_ingest",
    "signup_bonus_award",
    "tier_create",
    "tier_evaluate",
    "tier_review_due",
]

# Redemption, coupons, referrals and badges.
from .badges import (
    BADGE_FACTS,
    BadgeRule,
    badge_fact_register,
    badges_anniversary_award,
    badges_evaluate,
)
from .coupons import (
    CouponCheck,
    coupon_batch_create,
    coupon_deactivate,
    coupon_find,
    coupon_issue,
    coupon_redeem,
    coupon_validate,
    coupons_issue_bulk,
)
from .redemption import (
    member_may_cancel,
    redemption_cancel,
    redemption_cancel_by_member,
    redemption_fulfil,
    redemptions_fulfil,
    reward_redeem,
)
from .referrals import (
    ReferredEnrolment,
    customer_enrol_referred,
    membership_enrol_referred,
    referral_code_for,
    referral_register,
    referral_reward_on_first_purchase,
)

__all__ += [
    "BADGE_FACTS",
    "BadgeRule",
    "CouponCheck",
    "ReferredEnrolment",
    "badge_fact_register",
    "badges_anniversary_award",
    "badges_evaluate",
    "coupon_batch_create",
    "coupon_deactivate",
    "coupon_find",
    "coupon_issue",
    "coupon_redeem",
    "coupon_validate",
    "coupons_issue_bulk",
    "customer_enrol_referred",
    "member_may_cancel",
    "membership_enrol_referred",
    "redemption_cancel",
    "redemption_cancel_by_member",
    "redemption_fulfil",
    "redemptions_fulfil",
    "referral_code_for",
    "referral_register",
    "referral_reward_on_first_purchase",
    "reward_redeem",
]
