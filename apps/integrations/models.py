import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.core.models import TimeStampedModel

from .enums import DeliveryStatus


class Endpoint(TimeStampedModel):
    """An HTTPS address of another system that receives the events it subscribes to.

    ``secret`` signs every delivery (HMAC-SHA-256, see ``signing``). It is kept as it is, not
    hashed: the server needs it to sign, and Administrators may reveal it again (audited).
    ``consecutive_failures`` counts failed attempts since the last success; at
    ``WEBHOOK_DISABLE_AFTER_FAILURES`` the endpoint is switched off (``disabled_at``,
    ``disabled_reason``) until an Administrator enables it again. Written only by
    ``apps.integrations.services``."""

    url = models.URLField(_("URL"), max_length=500)
    description = models.CharField(_("description"), max_length=200, blank=True)
    # Names from ``catalogue.WEBHOOK_EVENTS`` (a JSON list: the project also runs on SQLite).
    event_types = models.JSONField(_("events"), default=list, blank=True)
    secret = models.CharField(_("signing secret"), max_length=100, editable=False)
    secret_rotated_at = models.DateTimeField(_("secret rotated"), null=True, blank=True)
    active = models.BooleanField(_("active"), default=True)
    consecutive_failures = models.PositiveIntegerField(_("consecutive failures"), default=0)
    failing_since = models.DateTimeField(_("failing since"), null=True, blank=True)
    last_success_at = models.DateTimeField(_("last success"), null=True, blank=True)
    last_failure_at = models.DateTimeField(_("last failure"), null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(_("last status"), null=True, blank=True)
    disabled_at = models.DateTimeField(_("disabled"), null=True, blank=True)
    disabled_reason = models.CharField(_("why disabled"), max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        verbose_name = _("webhook endpoint")
        verbose_name_plural = _("webhook endpoints")
        ordering = ["pk"]

    def __str__(self) -> str:
        return self.description or self.url

    @property
    def disabled_automatically(self) -> bool:
        return not self.active and self.disabled_at is not None


class Delivery(models.Model):
    """One event for one endpoint: the body as first built (replays send the same bytes' data),
    its attempts and the last answer. One row per (endpoint, event id): a repeated outbox
    delivery finds the row and sends nothing more."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    endpoint = models.ForeignKey(
        Endpoint, verbose_name=_("endpoint"), on_delete=models.CASCADE, related_name="deliveries"
    )
    event_id = models.UUIDField(_("event id"))
    event_name = models.CharField(_("event"), max_length=80)
    payload = models.JSONField(_("payload"), default=dict)
    status = models.CharField(
        _("status"), max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    # Attempts since the delivery was created or last replayed: the back-off and the give-up
    # limit count these, so a replay gets a fresh round.
    round_attempts = models.PositiveIntegerField(_("attempts this round"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    last_attempt_at = models.DateTimeField(_("last attempt"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered"), null=True, blank=True)
    response_code = models.PositiveSmallIntegerField(_("response status"), null=True, blank=True)
    response_snippet = models.TextField(_("response (start)"), blank=True)
    duration_ms = models.PositiveIntegerField(_("duration (ms)"), null=True, blank=True)
    error = models.CharField(_("error"), max_length=500, blank=True)
    replayed_at = models.DateTimeField(_("replayed"), null=True, blank=True)
    replayed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("replayed by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        constraints = [
            models.UniqueConstraint(
                fields=["endpoint", "event_id"], name="integrations_delivery_endpoint_event_uniq"
            )
        ]
        indexes = [
            # The delivery log of one endpoint, newest first, optionally by status.
            models.Index(fields=["endpoint", "-created_at"], name="integrations_delivery_log_idx"),
            models.Index(
                fields=["endpoint", "status", "-created_at"],
                name="integrations_delivery_st_idx",
            ),
            # The retry sweep: open deliveries that are due.
            models.Index(
                fields=["next_attempt_at"],
                name="integrations_delivery_due_idx",
                condition=Q(status__in=["pending", "retrying"]),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_name} → {self.endpoint_id}"
