from django.utils.translation import gettext_lazy as _

from apps.core.exceptions import ApplicationError, Conflict, ValidationFailed


class SurveyNotFound(ApplicationError):
    code = "not_found"
    status = 404
    default_message = _("No such survey.")


class InvitationNotFound(ApplicationError):
    code = "not_found"
    status = 404
    default_message = _("This survey link is not valid.")


class AlreadyAnswered(Conflict):
    code = "already_answered"
    default_message = _("This survey has already been answered. Thank you!")


class InvitationExpired(Conflict):
    code = "expired"
    default_message = _("This survey link has expired.")


class SurveyNotOpen(Conflict):
    code = "survey_closed"
    default_message = _("This survey is not open for answers.")


class NotEligible(Conflict):
    code = "not_eligible"
    default_message = _("This member cannot be invited to this survey now.")


class OrderMemberMismatch(Conflict):
    code = "order_member_mismatch"
    default_message = _("This order belongs to another member.")


class SurveyLocked(Conflict):
    """An edit that would change the meaning of answers already collected."""

    code = "survey_locked"
    default_message = _(
        "This survey has responses: questions already answered cannot change meaning. "
        "Add a new question or make a new version instead."
    )


class AnswersInvalid(ValidationFailed):
    """Answers that fail validation; ``errors`` maps question id to the member-facing message."""

    code = "validation_error"
    default_message = _("Some answers need your attention.")

    def __init__(self, errors: dict[int, str]):
        super().__init__(self.default_message)
        self.errors = errors
