from django.utils.translation import gettext_lazy as _

from apps.core.exceptions import Conflict, ValidationFailed


class EndpointRefused(ValidationFailed):
    """An endpoint URL that may not be used: not https, malformed, or leading to a private,
    loopback or link-local address (SSRF)."""

    code = "endpoint_refused"
    default_message = _("This URL cannot receive webhooks.")

    def __init__(self, message=None, **extra):
        super().__init__(message, field="url", **extra)


class NotReplayable(Conflict):
    code = "delivery_not_replayable"
    default_message = _("Only a failed delivery can be sent again.")
