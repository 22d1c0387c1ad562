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
