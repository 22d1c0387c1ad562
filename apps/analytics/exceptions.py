from django.utils.translation import gettext_lazy as _

from apps.core.exceptions import ApplicationError


class NotEnoughHistory(ApplicationError):
    code = "not_enough_history"
    status = 409
    default_message = _("There are not enough customers with orders to fit the models yet.")


class InvalidRules(ApplicationError):
    """A segment's condition tree was refused before any query ran."""

    code = "invalid_rules"
    status = 400
    default_message = _("The segment rules are not valid.")


class SegmentNotFound(ApplicationError):
    code = "not_found"
    status = 404
    default_message = _("No such segment.")


class ReportSubscriptionInvalid(ApplicationError):
    """A report subscription refused before anything was written; ``extra["field"]`` names the
    form field at fault (``add_service_error`` shows it there)."""

    code = "invalid_subscription"
    status = 400
    default_message = _("The report subscription is not valid.")


class ReportRecipientsMissing(ReportSubscriptionInvalid):
    code = "no_recipients"
    default_message = _("Choose a role or enter at least one e-mail address.")


class ReportAddressInvalid(ReportSubscriptionInvalid):
    code = "invalid_address"
    default_message = _("An e-mail address is not valid.")


class ReportScheduleInvalid(ReportSubscriptionInvalid):
    code = "invalid_schedule"
    default_message = _("The schedule is not valid.")
