"""Complaints: tickets against SLA clocks in business time, their conversation, events and
compensation.

Invariant 7 lives here: the due times are absolute instants computed by
``apps.core.calendar.add_business_minutes`` in the policy's calendar; while a ticket waits on
the customer its resolution due time is cleared and the business minutes that were left are kept
(``resolution_left``), so resuming computes a new due time from then. A breach is a timestamp set
by a conditional UPDATE (``… WHERE breached_at IS NULL``): it is recorded once.
Exactly once (invariant 2): one follow-up ticket per survey response (``source_ref`` unique),
one inbound e-mail per Message-ID (``TicketMessage.email_message_id`` unique), and compensation
reaches the ledger under the key ``compensation:<id>``.
"""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from apps.core.models import TimeStampedModel
from apps.core.private_files import private_storage

from .enums import (
    AuthorKind,
    Clock,
    CompensationKind,
    CompensationStatus,
    EventKind,
    MessageKind,
    Notify,
    Priority,
    TicketChannel,
    TicketStatus,
)

USER = settings.AUTH_USER_MODEL


class Category(models.Model):
    """A node of the complaint tree; the root it hangs from is the root cause in reports."""

    parent = models.ForeignKey(
        "self",
        verbose_name=_("parent"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )
    code = models.SlugField(_("code"), max_length=60, unique=True)
    name = models.CharField(_("name"), max_length=120)
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    active = models.BooleanField(_("active"), default=True)
    member_visible = models.BooleanField(
        _("members can choose it"),
        default=True,
        help_text=_("Shown in the portal's complaint form."),
    )

    class Meta:
        verbose_name = _("category")
        verbose_name_plural = _("categories")
        ordering = ["position", "code"]

    def __str__(self) -> str:
        return self.name


class Team(models.Model):
    code = models.SlugField(_("code"), max_length=60, unique=True)
    name = models.CharField(_("name"), max_length=120)
    lead = models.ForeignKey(
        USER,
        verbose_name=_("team lead"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="led_teams",
    )
    members = models.ManyToManyField(
        USER, verbose_name=_("members"), blank=True, related_name="support_teams"
    )
    categories = models.ManyToManyField(
        Category,
        verbose_name=_("routes these categories"),
        blank=True,
        related_name="teams",
        help_text=_("New tickets in these categories (or below them) go to this team."),
    )

    class Meta:
        verbose_name = _("team")
        verbose_name_plural = _("teams")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class SLAPolicy(TimeStampedModel):
    """Targets for the tickets it matches; policies are tried in ``position`` order and the
    first that matches wins. An empty condition matches anything."""

    name = models.CharField(_("name"), max_length=120)
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    active = models.BooleanField(_("active"), default=True)
    priorities = models.JSONField(_("priorities"), default=list, blank=True)
    categories = models.ManyToManyField(
        Category,
        verbose_name=_("categories (and below)"),
        blank=True,
        related_name="+",
    )
    tiers = models.ManyToManyField(
        "loyalty.Tier", verbose_name=_("member tiers"), blank=True, related_name="+"
    )
    calendar = models.ForeignKey(
        "core.BusinessCalendar",
        verbose_name=_("business calendar"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    first_response_minutes = models.PositiveIntegerField(
        _("first response within (business minutes)"),
        validators=[MinValueValidator(1), MaxValueValidator(525_600)],
    )
    resolution_minutes = models.PositiveIntegerField(
        _("resolution within (business minutes)"),
        validators=[MinValueValidator(1), MaxValueValidator(525_600)],
    )

    class Meta:
        verbose_name = _("SLA policy")
        verbose_name_plural = _("SLA policies")
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.name


class EscalationLevel(models.Model):
    """At ``percent`` of a clock's target, tell someone (in the calendar's opening hours)."""

    policy = models.ForeignKey(SLAPolicy, on_delete=models.CASCADE, related_name="escalations")
    clock = models.CharField(_("clock"), max_length=20, choices=Clock.choices)
    percent = models.PositiveSmallIntegerField(
        _("at % of the target"), validators=[MinValueValidator(1), MaxValueValidator(500)]
    )
    notify = models.CharField(_("notify"), max_length=20, choices=Notify.choices)

    class Meta:
        verbose_name = _("escalation level")
        verbose_name_plural = _("escalation levels")
        ordering = ["clock", "percent"]
        constraints = [
            models.UniqueConstraint(
                fields=["policy", "clock", "percent"], name="complaints_escalation_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_clock_display()} {self.percent}%"


class ComplaintSettings(TimeStampedModel):
    """One row: the programme-wide complaint rules."""

    reopen_days = models.PositiveSmallIntegerField(
        _("members can reopen within (days)"), default=14, validators=[MaxValueValidator(365)]
    )
    auto_close_days = models.PositiveSmallIntegerField(
        _("resolved tickets close after (days)"), default=7, validators=[MaxValueValidator(365)]
    )
    compensation_limit = models.DecimalField(
        _("agent compensation limit (¥)"),
        max_digits=10,
        decimal_places=2,
        default=50,
        help_text=_("Compensation worth more waits for a manager's approval."),
    )
    follow_up_category = models.ForeignKey(
        Category,
        verbose_name=_("category of detractor follow-ups"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        verbose_name = _("complaint settings")
        verbose_name_plural = _("complaint settings")

    @classmethod
    def get(cls) -> "ComplaintSettings":
        return cls.objects.order_by("pk").first() or cls.objects.create()


class TicketSequence(models.Model):
    """The last reference number given out in a year (``C-2026-000123``)."""

    year = models.PositiveSmallIntegerField(primary_key=True)
    last = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.year}: {self.last}"


class Ticket(TimeStampedModel):
    reference = models.CharField(_("reference"), max_length=20, unique=True)
    customer = models.ForeignKey(
        "customers.Customer",
        verbose_name=_("customer"),
        on_delete=models.PROTECT,
        related_name="tickets",
    )
    order = models.ForeignKey(
        "customers.Order",
        verbose_name=_("order"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="tickets",
    )
    channel = models.CharField(_("channel"), max_length=10, choices=TicketChannel.choices)
    category = models.ForeignKey(
        Category, verbose_name=_("category"), on_delete=models.PROTECT, related_name="tickets"
    )
    priority = models.CharField(
        _("priority"), max_length=10, choices=Priority.choices, default=Priority.NORMAL
    )
    status = models.CharField(
        _("status"), max_length=20, choices=TicketStatus.choices, default=TicketStatus.NEW
    )
    subject = models.CharField(_("subject"), max_length=200)
    description = models.TextField(_("description"))
    assignee = models.ForeignKey(
        USER,
        verbose_name=_("assignee"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_tickets",
    )
    team = models.ForeignKey(
        Team,
        verbose_name=_("team"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="tickets",
    )
    sla_policy = models.ForeignKey(
        SLAPolicy,
        verbose_name=_("SLA policy"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="tickets",
    )
    # Clocks: absolute due instants (null: no policy, met, or paused).
    first_response_due = models.DateTimeField(_("first response due"), null=True, blank=True)
    first_responded_at = models.DateTimeField(_("first responded"), null=True, blank=True)
    first_response_breached_at = models.DateTimeField(
        _("first response breached"), null=True, blank=True
    )
    resolution_due = models.DateTimeField(_("resolution due"), null=True, blank=True)
    resolution_left = models.IntegerField(
        _("business minutes left while paused"), null=True, blank=True
    )
    resolution_breached_at = models.DateTimeField(_("resolution breached"), null=True, blank=True)
    paused_at = models.DateTimeField(_("paused since"), null=True, blank=True)
    paused_minutes = models.PositiveIntegerField(_("business minutes paused"), default=0)
    next_escalation_at = models.DateTimeField(_("next escalation"), null=True, blank=True)
    escalation_level = models.PositiveSmallIntegerField(_("escalation level"), default=0)
    # Measured at the moment, in business minutes of the policy's calendar (reports read these).
    first_response_minutes = models.PositiveIntegerField(null=True, blank=True)
    resolution_minutes = models.PositiveIntegerField(null=True, blank=True)
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    reopened_count = models.PositiveSmallIntegerField(_("times reopened"), default=0)
    satisfaction = models.PositiveSmallIntegerField(
        _("satisfaction"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(5)],
    )
    satisfaction_comment = models.TextField(_("satisfaction comment"), blank=True)
    rated_at = models.DateTimeField(_("rated"), null=True, blank=True)
    last_customer_reply_at = models.DateTimeField(null=True, blank=True)
    # What opened it, when a job did ("survey-response:<id>"): once per source.
    source_ref = models.CharField(max_length=64, null=True, blank=True, unique=True)
    created_by = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("ticket")
        verbose_name_plural = _("tickets")
        ordering = ["-created_at", "-id"]
        permissions = [
            ("work_ticket", _("Can reply to, assign and resolve tickets")),
            ("assign_ticket", _("Can assign tickets to others")),
            ("approve_compensation", _("Can approve compensation above the limit")),
            ("view_complaint_reports", _("Can read and export complaint reports")),
        ]
        indexes = [
            models.Index(fields=["status", "-created_at"], name="complaints_status_created"),
            models.Index(fields=["assignee", "status"], name="complaints_assignee_status"),
            models.Index(fields=["team", "status"], name="complaints_team_status"),
            models.Index(fields=["customer", "-created_at"], name="complaints_customer_created"),
            models.Index(
                fields=["resolution_due"],
                name="complaints_resolution_due",
                condition=Q(resolution_due__isnull=False, resolution_breached_at__isnull=True),
            ),
            models.Index(
                fields=["first_response_due"],
                name="complaints_first_response_due",
                condition=Q(
                    first_response_due__isnull=False,
                    first_responded_at__isnull=True,
                    first_response_breached_at__isnull=True,
                ),
            ),
            models.Index(
                fields=["next_escalation_at"],
                name="complaints_next_escalation",
                condition=Q(next_escalation_at__isnull=False),
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(satisfaction__isnull=True)
                | Q(satisfaction__gte=1, satisfaction__lte=5),
                name="complaints_ticket_satisfaction_range",
            )
        ]

    def __str__(self) -> str:
        return self.reference

    @property
    def is_active(self) -> bool:
        return self.status not in (TicketStatus.RESOLVED, TicketStatus.CLOSED)

    @property
    def is_breached(self) -> bool:
        return bool(self.first_response_breached_at or self.resolution_breached_at)


class TicketMessage(models.Model):
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="messages")
    kind = models.CharField(
        _("kind"), max_length=10, choices=MessageKind.choices, default=MessageKind.PUBLIC
    )
    author_kind = models.CharField(_("from"), max_length=10, choices=AuthorKind.choices)
    author = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    via = models.CharField(_("via"), max_length=10, choices=TicketChannel.choices)
    body = models.TextField(_("message"))
    at = models.DateTimeField(_("at"))
    # An inbound e-mail's Message-ID: the same mail delivered twice is one message.
    email_message_id = models.CharField(max_length=250, null=True, blank=True, unique=True)

    class Meta:
        verbose_name = _("ticket message")
        verbose_name_plural = _("ticket messages")
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["ticket", "at"], name="complaints_message_ticket_at")]

    def __str__(self) -> str:
        return f"{self.ticket_id} {self.get_kind_display()} {self.at:%Y-%m-%d %H:%M}"

    @property
    def is_internal(self) -> bool:
        return self.kind == MessageKind.INTERNAL


class Attachment(models.Model):
    """A checked file (``apps.core.uploads``) in private storage; served only by the
    permission-checked views, never by URL."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="attachments")
    message = models.ForeignKey(
        TicketMessage,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="attachments",
    )
    file = models.FileField(_("file"), storage=private_storage, max_length=200)
    name = models.CharField(_("name"), max_length=200)
    content_type = models.CharField(_("type"), max_length=100)
    size = models.PositiveIntegerField(_("size"))
    sha256 = models.CharField(max_length=64)
    at = models.DateTimeField(_("at"))

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return self.name


class TicketEvent(models.Model):
    """Every status, assignment, SLA and escalation change, append-only."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(_("kind"), max_length=20, choices=EventKind.choices)
    at = models.DateTimeField(_("at"))
    actor = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    data = models.JSONField(_("details"), default=dict, blank=True)

    class Meta:
        verbose_name = _("ticket event")
        verbose_name_plural = _("ticket events")
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["ticket", "at"], name="complaints_event_ticket_at")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.at:%Y-%m-%d %H:%M}"


class SavedReply(TimeStampedModel):
    title = models.CharField(_("title"), max_length=120)
    body = models.TextField(_("reply"))
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("saved reply")
        verbose_name_plural = _("saved replies")
        ordering = ["title"]

    def __str__(self) -> str:
        return self.title


class Compensation(models.Model):
    ticket = models.ForeignKey(Ticket, on_delete=models.PROTECT, related_name="compensations")
    kind = models.CharField(_("kind"), max_length=10, choices=CompensationKind.choices)
    points = models.PositiveIntegerField(_("points"), default=0)
    amount = models.DecimalField(
        _("amount (¥)"),
        max_digits=10,
        decimal_places=2,
        default=0,
        help_text=_("Coupon value or refund amount."),
    )
    value = models.DecimalField(
        _("worth (¥)"), max_digits=12, decimal_places=2, help_text=_("What it costs the business.")
    )
    reason = models.CharField(_("reason"), max_length=300)
    status = models.CharField(
        _("status"),
        max_length=10,
        choices=CompensationStatus.choices,
        default=CompensationStatus.PENDING,
    )
    requested_by = models.ForeignKey(USER, null=True, on_delete=models.SET_NULL, related_name="+")
    requested_at = models.DateTimeField(_("requested"))
    decided_by = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)
    transaction = models.ForeignKey(
        "loyalty.PointsTransaction",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    coupon = models.ForeignKey(
        "loyalty.Coupon", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        verbose_name = _("compensation")
        verbose_name_plural = _("compensation")
        ordering = ["-requested_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="issued")
                | Q(kind="refund")
                | Q(transaction__isnull=False)
                | Q(coupon__isnull=False),
                name="complaints_compensation_issued_has_effect",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.value}"
