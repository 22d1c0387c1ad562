"""Loyalty models, by concept: the programme's configuration (``programme``), accounts and the
ledger (``ledger``), rewards and coupons (``rewards``), referrals and badges
(``recognition``), ledger verification runs (``verification``)."""

from .ledger import (
    LotAllocation,
    LoyaltyAccount,
    PointsAdjustment,
    PointsLot,
    PointsTransaction,
    TierHistory,
)
from .programme import MONEY, ConfigurationVersion, EarnRule, Programme, Tier
from .recognition import Badge, CustomerBadge, Referral, ReferralCode
from .rewards import Coupon, CouponBatch, CouponUse, Redemption, Reward
from .verification import LedgerVerification

__all__ = [
    "MONEY",
    "Badge",
    "ConfigurationVersion",
    "Coupon",
    "CouponBatch",
    "CouponUse",
    "CustomerBadge",
    "EarnRule",
    "LedgerVerification",
    "LotAllocation",
    "LoyaltyAccount",
    "PointsAdjustment",
    "PointsLot",
    "PointsTransaction",
    "Programme",
    "Redemption",
    "Referral",
    "ReferralCode",
    "Reward",
    "Tier",
    "TierHistory",
]
