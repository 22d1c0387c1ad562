"""Domain errors. Each has a stable machine ``code`` and a human ``message``; the API maps them
to ``{"code", "message"}`` with ``status``; the dashboard shows ``message`` as a form error."""

from django.utils.translation import gettext_lazy as _


class ApplicationError(Exception):
    code = "error"
    status = 400
    default_message = _("The request could not be completed.")

    def __init__(self, message=None, *, code: str | None = None, **extra):
        self.message = str(message or self.default_message)
        if code:
            self.code = code
        self.extra = extra
        super().__init__(self.message)


class ValidationFailed(ApplicationError):
    code = "validation_error"
    status = 400
    default_message = _("The data is not valid.")


class NotFound(ApplicationError):
    code = "not_found"
    status = 404
    default_message = _("Not found.")


class Conflict(ApplicationError):
    code = "conflict"
    status = 409
    default_message = _("The request conflicts with the current state.")


class IdempotencyKeyReused(ApplicationError):
    code = "idempotency_key_reused"
    status = 422
    default_message = _("This Idempotency-Key was already used for a different request.")


class IdempotencyInProgress(Conflict):
    code = "idempotency_conflict"
    default_message = _(
        "A request with this Idempotency-Key is still being processed; retry shortly."
    )


class UploadRefused(ValidationFailed):
    """An uploaded file refused by ``apps.core.uploads`` (type, size, pixels, active content,
    damage). ``message`` names the file and the reason; ``extra["reason"]`` is a stable word
    (``type``, ``too_large``, ``pixels``, ``active_content``, ``encrypted``, ``damaged``,
    ``empty``, ``too_many``, ``total_too_large``) and ``extra["problems"]``, when several files
    were refused at once, every message."""

    code = "upload_refused"
    default_message = _("The file was refused.")

    @property
    def messages(self) -> list[str]:
        return list(self.extra.get("problems") or [self.message])
