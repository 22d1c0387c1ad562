from django.utils.translation import gettext_lazy as _

from apps.core.exceptions import ApplicationError, Conflict, NotFound, ValidationFailed


class TicketNotFound(NotFound):
    code = "ticket_not_found"
    default_message = _("No such complaint.")


class AlreadyAssigned(Conflict):
    code = "already_assigned"
    default_message = _("Someone else has just taken this ticket.")


class TransitionRefused(Conflict):
    code = "transition_refused"
    default_message = _("The ticket cannot move to that status now.")


class ReopenRefused(Conflict):
    code = "reopen_refused"
    default_message = _("This complaint can no longer be reopened.")


class NotAllowed(ApplicationError):
    code = "permission_denied"
    status = 403
    default_message = _("You are not allowed to do this.")


class CompensationRefused(ValidationFailed):
    code = "compensation_refused"
    default_message = _("This compensation cannot be issued.")


class AlreadyDecided(Conflict):
    code = "already_decided"
    default_message = _("This compensation has already been decided.")
