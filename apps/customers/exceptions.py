from django.utils.translation import gettext_lazy as _

from apps.core.exceptions import ApplicationError, Conflict, NotFound, ValidationFailed


class CustomerNotFound(NotFound):
    code = "customer_not_found"
    default_message = _("No customer with that member number.")


class StoreNotFound(NotFound):
    code = "store_not_found"
    default_message = _("No store with that code.")


class OrderNotFound(NotFound):
    code = "order_not_found"
    default_message = _("No order with that id in that store.")


class RefundExceedsOrder(ApplicationError):
    code = "refund_exceeds_order"
    status = 409
    default_message = _("The refund is larger than what remains refundable on the order.")


class IdempotencyConflict(Conflict):
    code = "idempotency_conflict"
    default_message = _("This id was already used with different data.")


class UnsubscribeTokenInvalid(NotFound):
    code = "unsubscribe_token_invalid"
    default_message = _("This unsubscribe link is not valid.")


class StaffCannotBeMember(ApplicationError):
    code = "staff_not_member"
    status = 403
    default_message = _(
        "Staff accounts cannot hold a membership. Please sign up with a personal e-mail address."
    )


class AlreadyMember(Conflict):
    code = "already_member"
    default_message = _("This account already has a membership.")


class ClaimNotPossible(Conflict):
    code = "claim_not_possible"
    default_message = _("We could not match a membership to these details.")


class PhoneCodeInvalid(ValidationFailed):
    code = "phone_code_invalid"
    default_message = _("That code is not right or has expired. Request a new one.")


class AlreadyEnrolled(Conflict):
    code = "already_enrolled"
    default_message = _("A member with this e-mail address or phone number is already enrolled.")

    def __init__(self, *, member_number: str) -> None:
        super().__init__(
            _("A member with this e-mail address or phone number is already enrolled: %(n)s.")
            % {"n": member_number},
            member_number=member_number,
        )


class MergeRefused(Conflict):
    """A merge of duplicate customers that would break an invariant; ``code`` says which rule
    (``merge_same_customer``, ``merge_already_merged``, ``merge_anonymised``)."""

    code = "merge_refused"
    default_message = _("These two customers cannot be merged.")


class MergeNotAllowed(ApplicationError):
    code = "merge_not_allowed"
    status = 403
    default_message = _("You are not allowed to merge customers.")


class SmsUnavailable(ApplicationError):
    code = "sms_unavailable"
    status = 503
    default_message = _(
        "We could not send the text message just now. Please try again in a few minutes."
    )
