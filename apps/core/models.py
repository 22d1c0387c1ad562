import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class TimeStampedModel(models.Model):
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        abstract = True


class AuditEvent(models.Model):
    """Who changed what, when, with the state before and after (invariant 8). Append-only.

    Read newest first in keyset pages on (at, id) (``apps.core.audit``): each filter the staff
    page offers has a composite index ending in (at, id), so any page, however deep, is an index
    range scan. They also serve plain look-ups by actor or action (no single-column indexes)."""

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("actor"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,  # (actor, at, id) below leads with it
    )
    actor_label = models.CharField(_("actor label"), max_length=200, blank=True)
    action = models.CharField(_("action"), max_length=80)
    at = models.DateTimeField(_("at"), default=timezone.now)
    target_type = models.CharField(_("target type"), max_length=80, blank=True)
    target_id = models.CharField(_("target id"), max_length=64, blank=True)
    summary = models.CharField(_("summary"), max_length=300, blank=True)
    before = models.JSONField(_("before"), null=True, blank=True)
    after = models.JSONField(_("after"), null=True, blank=True)

    class Meta:
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["-at", "-id"], name="core_audit_at_id_idx"),
            models.Index(fields=["actor", "-at", "-id"], name="core_audit_actor_at_idx"),
            models.Index(fields=["action", "-at", "-id"], name="core_audit_action_at_idx"),
            models.Index(
                fields=["target_type", "target_id", "-at", "-id"], name="core_audit_target_at_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.action} {self.target_type}:{self.target_id}"


class IdempotencyKey(models.Model):
    """One row per (scope, key): the first request's fingerprint and, once done, its response."""

    class State(models.TextChoices):
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")

    scope = models.CharField(_("scope"), max_length=64)
    key = models.CharField(_("key"), max_length=255)
    request_hash = models.CharField(_("request hash"), max_length=64)
    state = models.CharField(_("state"), max_length=10, choices=State.choices)
    response_status = models.PositiveSmallIntegerField(_("response status"), null=True)
    response_body = models.JSONField(_("response body"), null=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("idempotency key")
        verbose_name_plural = _("idempotency keys")
        constraints = [
            models.UniqueConstraint(fields=["scope", "key"], name="core_idempotency_scope_key_uniq")
        ]

    def __str__(self) -> str:
        return f"{self.scope}:{self.key}"


class OutboxEvent(models.Model):
    """A domain event with after-commit subscribers, written in the publisher's transaction
    and delivered after commit (``apps.core.events``). ``done`` lists the subscribers that
    have had it; ``delivered_at`` is set once all have."""

    id = models.UUIDField(primary_key=True)
    name = models.CharField(_("event"), max_length=80)
    payload = models.JSONField(_("payload"), default=dict)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    delivered_at = models.DateTimeField(_("delivered"), null=True, blank=True)
    done = models.JSONField(_("delivered to"), default=list)
    attempts = models.PositiveIntegerField(_("failed attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True)

    class Meta:
        verbose_name = _("outbox event")
        verbose_name_plural = _("outbox events")
        indexes = [
            models.Index(
                fields=["created_at"],
                name="core_outbox_undelivered_idx",
                condition=models.Q(delivered_at__isnull=True),
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.pk}"


class BusinessCalendar(TimeStampedModel):
    """When a business counts time: a time zone, weekly opening hours (several intervals a day,
    half-open: "09:00"–"12:00" is open from 09:00 up to, not including, 12:00), holidays, and
    make-up working days (调休) that open with Monday's hours. The arithmetic is
    ``apps.core.calendar``; the document shape and its checks are ``apps.core.calendar_rules``.
    """

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=120)
    timezone = models.CharField(_("time zone"), max_length=64, default="Asia/Shanghai")
    hours = models.JSONField(_("weekly hours"), default=dict)
    holidays = models.JSONField(_("holidays"), default=list, blank=True)
    workdays = models.JSONField(_("make-up working days"), default=list, blank=True)

    class Meta:
        verbose_name = _("business calendar")
        verbose_name_plural = _("business calendars")
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name or self.code


class ExportJob(models.Model):
    """A large export written in the background (``apps.core.export_jobs``): queued by the list's
    export view when more rows match than ``EXPORT_BACKGROUND_ROWS``, written by a worker to
    private storage with progress, and downloadable by whoever started it until
    ``expires_at``; the nightly purge deletes the file after that. ``params`` are the list's
    filters as the view read them, so the worker builds exactly the export the view would."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        DONE = "done", _("Ready")
        FAILED = "failed", _("Failed")
        EXPIRED = "expired", _("Expired")

    class Format(models.TextChoices):
        CSV = "csv", "CSV"
        XLSX = "xlsx", "Excel"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(_("export"), max_length=40)
    fmt = models.CharField(_("format"), max_length=4, choices=Format.choices)
    params = models.JSONField(_("filters"), default=dict, blank=True)
    language = models.CharField(_("language"), max_length=10)
    status = models.CharField(
        _("status"), max_length=8, choices=Status.choices, default=Status.QUEUED
    )
    total_rows = models.PositiveIntegerField(_("rows"), default=0)
    processed_rows = models.PositiveIntegerField(_("rows written"), default=0)
    truncated = models.BooleanField(_("cut at the spreadsheet limit"), default=False)
    file_name = models.CharField(_("file name"), max_length=200, blank=True)
    stored_name = models.CharField(_("stored as"), max_length=300, blank=True)
    size = models.PositiveBigIntegerField(_("size in bytes"), default=0)
    error = models.TextField(_("error"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("started by"),
        on_delete=models.CASCADE,
        related_name="+",
    )
    created_at = models.DateTimeField(_("started"), default=timezone.now)
    heartbeat_at = models.DateTimeField(_("last progress"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    expires_at = models.DateTimeField(_("link expires"), null=True, blank=True)

    class Meta:
        verbose_name = _("export job")
        verbose_name_plural = _("export jobs")
        indexes = [
            models.Index(fields=["created_by", "-created_at"], name="core_exportjob_owner_idx"),
            models.Index(
                fields=["expires_at"],
                name="core_exportjob_expiry_idx",
                condition=models.Q(status="done"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.fmt} {self.pk}"

    @property
    def percent(self) -> int:
        if self.status == self.Status.DONE:
            return 100
        return min(99, self.processed_rows * 100 // self.total_rows) if self.total_rows else 0


class JobRun(models.Model):
    """The last run of each scheduled job, one row per beat entry (``PeriodicTask.name``),
    written by ``apps.core.observability`` from Celery's task signals. Monitoring reads it: a
    nightly job that has not succeeded for a day is an alert (``/metrics``, ``manage.py
    doctor``). Only the exception's class is kept: its message may hold personal data."""

    name = models.CharField(max_length=200, unique=True)
    task = models.CharField(max_length=200)
    last_started_at = models.DateTimeField(null=True, blank=True)
    last_finished_at = models.DateTimeField(null=True, blank=True)
    last_succeeded_at = models.DateTimeField(null=True, blank=True)
    last_failed_at = models.DateTimeField(null=True, blank=True)
    last_state = models.CharField(max_length=16, blank=True)
    last_duration = models.FloatField(null=True, blank=True)
    last_error = models.CharField(max_length=200, blank=True)

    class Meta:
        verbose_name = _("job run")
        verbose_name_plural = _("job runs")

    def __str__(self) -> str:
        return f"{self.name} {self.last_state or 'started'}"
