from django.db import models
from django.utils.translation import gettext_lazy as _


class ExpiryPolicy(models.TextChoices):
    ROLLING = "rolling", _("Rolling: N months after earning")
    END_OF_YEAR = "end_of_year", _("Clearing: end of the Nth calendar year")
    NEVER = "never", _("Never")


class TxKind(models.TextChoices):
    EARN = "earn", _("Earned")
    PENDING = "pending", _("Pending")
    MATURE = "mature", _("Became available")
    REDEEM = "redeem", _("Redeemed")
    EXPIRE = "expire", _("Expired")
    ADJUST = "adjust", _("Adjusted")
    REVERSE = "reverse", _("Redemption cancelled")
    COMPENSATE = "compensate", _("Compensation")
    REFUND = "refund", _("Refund clawback")
    # A merge of duplicate memberships: a debit on the merged-away account and a credit on the
    # survivor's, same points; neither issues nor spends points (reports leave them out).
    TRANSFER = "transfer", _("Merged membership transfer")


class TxGroup(models.TextChoices):
    """How a member filters their points history: what happened to their points, in their
    words. A kind missing from ``TX_GROUP_KINDS`` (a kind added later) shows under "all" only."""

    EARNED = "earned", _("Earned")
    REDEEMED = "redeemed", _("Redeemed")
    EXPIRED = "expired", _("Expired")
    ADJUSTED = "adjusted", _("Adjusted")


TX_GROUP_KINDS: dict[str, tuple[str, ...]] = {
    TxGroup.EARNED: (TxKind.EARN, TxKind.PENDING, TxKind.MATURE, TxKind.COMPENSATE),
    TxGroup.REDEEMED: (TxKind.REDEEM, TxKind.REVERSE),
    TxGroup.EXPIRED: (TxKind.EXPIRE,),
    TxGroup.ADJUSTED: (TxKind.ADJUST, TxKind.REFUND, TxKind.TRANSFER),
}


class BonusKind(models.TextChoices):
    """Why points were given outside an order; recorded in a ledger row's ``detail["bonus"]``
    so its description can say so in the reader's language."""

    WELCOME = "welcome", _("Welcome bonus")
    BIRTHDAY = "birthday", _("Birthday bonus")
    REFERRAL = "referral", _("Referral bonus")
    REFERRED = "referred", _("Bonus for joining through a friend")
    BADGE = "badge", _("Badge bonus")
    TIER_GIFT = "tier_gift", _("Tier welcome gift")
    EVENT = "event", _("Event bonus")
    CAMPAIGN = "campaign", _("Campaign bonus")


class LotStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    AVAILABLE = "available", _("Available")
    SPENT = "spent", _("Spent")
    EXPIRED = "expired", _("Expired")
    VOID = "void", _("Clawed back")


class TierMetric(models.TextChoices):
    SPEND = "spend", _("Spend")
    POINTS = "points", _("Points earned")


class EarnRuleKind(models.TextChoices):
    CATEGORY = "category", _("Category multiplier")
    SKU = "sku", _("Product (SKU) multiplier")
    STORE = "store", _("Store multiplier")
    CHANNEL = "channel", _("Channel multiplier")
    PROMOTION = "promotion", _("Promotion (date window)")
    FIRST_PURCHASE = "first_purchase", _("First-purchase bonus")
    MIN_SPEND = "min_spend", _("Spend threshold bonus")
    EVENT = "event", _("Event bonus")


# The two families of earn rules (see ``apps.loyalty.rules``): multipliers scale the points of
# the spend they match; bonuses add a fixed number of points to an order or an event.
MULTIPLIER_KINDS = frozenset(
    {
        EarnRuleKind.CATEGORY,
        EarnRuleKind.SKU,
        EarnRuleKind.STORE,
        EarnRuleKind.CHANNEL,
        EarnRuleKind.PROMOTION,
    }
)
ORDER_BONUS_KINDS = frozenset({EarnRuleKind.FIRST_PURCHASE, EarnRuleKind.MIN_SPEND})
BONUS_KINDS = ORDER_BONUS_KINDS | {EarnRuleKind.EVENT}


class EarnEvent(models.TextChoices):
    """Things a member does outside an order that an event-bonus rule can reward. Add a member
    here (and a migration for the new choice) to let integrations report a new event; the API
    accepts exactly these codes."""

    PROFILE_COMPLETED = "profile_completed", _("Profile completed")
    APP_INSTALLED = "app_installed", _("App installed")
    REVIEW_POSTED = "review_posted", _("Review posted")
    SURVEY_COMPLETED = "survey_completed", _("Survey completed")


class RewardKind(models.TextChoices):
    VOUCHER = "voucher", _("Voucher")
    CASH_OFF = "cash_off", _("Cash-off voucher")
    PHYSICAL = "physical", _("Physical gift")
    EXPERIENCE = "experience", _("Experience")
    DONATION = "donation", _("Donation")


class RedemptionStatus(models.TextChoices):
    REQUESTED = "requested", _("Requested")
    FULFILLED = "fulfilled", _("Fulfilled")
    CANCELLED = "cancelled", _("Cancelled")


class CouponKind(models.TextChoices):
    PERCENT = "percent", _("Percent off")
    FIXED = "fixed", _("Amount off")
    FREE_SHIPPING = "free_shipping", _("Free shipping")


class ReferralStatus(models.TextChoices):
    PENDING = "pending", _("Waiting for first purchase")
    REWARDED = "rewarded", _("Rewarded")
    REFUSED = "refused", _("Refused")


class AdjustmentStatus(models.TextChoices):
    PENDING = "pending", _("Waiting for approval")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")


# Rewards paid out as a coupon in the member's wallet; they need the coupon's kind.
VOUCHER_KINDS = (RewardKind.VOUCHER, RewardKind.CASH_OFF)


class CouponRefusal(models.TextChoices):
    """Why a coupon cannot be used (``reason_code`` of a coupon check; "" when it can)."""

    UNKNOWN = "unknown", _("Unknown code")
    INACTIVE = "inactive", _("No longer active")
    NOT_YET_VALID = "not_yet_valid", _("Not valid yet")
    EXPIRED = "expired", _("Expired")
    USED_UP = "used_up", _("Used up")
    PER_CUSTOMER_LIMIT = "per_customer_limit", _("Used as often as allowed by this member")
    NOT_OWNER = "not_owner", _("Belongs to another member")
    BELOW_MIN_SPEND = "below_min_spend", _("Below the minimum spend")
