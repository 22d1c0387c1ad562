from django.utils.translation import gettext_lazy as _

from apps.core.exceptions import ApplicationError, Conflict, ValidationFailed


class InsufficientPoints(Conflict):
    code = "insufficient_points"
    default_message = _("Not enough points.")


class OutOfStock(Conflict):
    code = "out_of_stock"
    default_message = _("This reward is out of stock.")


class LimitReached(Conflict):
    code = "limit_reached"
    default_message = _("The limit for this member has been reached.")


class NotEligible(Conflict):
    code = "not_eligible"
    default_message = _("The member is not eligible for this.")


class CouponInvalid(Conflict):
    code = "coupon_invalid"
    default_message = _("This coupon cannot be used.")


class RewardNotFound(ApplicationError):
    code = "reward_not_found"
    status = 404
    default_message = _("No such reward.")


class CouponNotFound(ApplicationError):
    code = "coupon_invalid"
    status = 404
    default_message = _("No such coupon.")


class AdjustmentNotAllowed(ApplicationError):
    code = "adjustment_not_allowed"
    status = 403
    default_message = _("You cannot make this adjustment.")


class LedgerDigestInvalid(ValidationFailed):
    code = "ledger_digest_invalid"
    default_message = _("This is not a ledger digest.")
