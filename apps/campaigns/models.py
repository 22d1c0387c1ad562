"""Campaigns and journeys.

A ``Campaign`` is a broadcast to a segment (frozen into a snapshot when the send starts) or a
journey triggered per customer by a domain event or a date. Each ``Variant`` carries the content
(per channel, in both languages) and a weight; the holdout receives nothing. ``Message`` is one
customer's place in one step of a campaign — queued, sent, delivered, failed, suppressed (with
its reason) or held out — unique per (campaign, step, customer): the database, not the code,
makes a retried or duplicated send harmless. ``step`` names the occurrence: ``"send"`` for a
broadcast, the year for a birthday, the order for an after-purchase journey.
"""

import datetime as dt
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.core.models import TimeStampedModel
from apps.customers.enums import Channel

from .enums import (
    CampaignKind,
    CampaignStatus,
    MessageStatus,
    OfferKind,
    Purpose,
    Suppression,
    Trigger,
)

MONEY = {"max_digits": 12, "decimal_places": 2}


class CampaignSettings(TimeStampedModel):
    """One row: the rules every campaign obeys together."""

    frequency_cap = models.PositiveSmallIntegerField(
        _("frequency cap"),
        default=3,
        validators=[MinValueValidator(1), MaxValueValidator(50)],
        help_text=_("Marketing messages one customer may receive in 7 days, across campaigns."),
    )
    quiet_start = models.TimeField(_("quiet hours start"), default=dt.time(21, 0))
    quiet_end = models.TimeField(_("quiet hours end"), default=dt.time(9, 0))
    tracking = models.BooleanField(
        _("track opens and clicks"),
        default=True,
        help_text=_("An open pixel and signed redirect links in marketing e-mails."),
    )
    conversion_days = models.PositiveSmallIntegerField(
        _("conversion window (days)"),
        default=14,
        validators=[MinValueValidator(1), MaxValueValidator(90)],
        help_text=_("An order within this many days of a message counts as a conversion."),
    )

    class Meta:
        verbose_name = _("campaign settings")
        verbose_name_plural = _("campaign settings")

    def __str__(self) -> str:
        return str(_("Campaign settings"))

    @classmethod
    def get(cls) -> "CampaignSettings":
        return cls.objects.order_by("pk").first() or cls.objects.create()

    def in_quiet_hours(self, moment: dt.datetime) -> bool:
        local = timezone.localtime(moment).time()
        if self.quiet_start == self.quiet_end:
            return False
        if self.quiet_start < self.quiet_end:
            return self.quiet_start <= local < self.quiet_end
        return local >= self.quiet_start or local < self.quiet_end

    def quiet_until(self, moment: dt.datetime) -> dt.datetime:
        """The end of the quiet hours ``moment`` falls in (``moment`` itself outside them)."""
        if not self.in_quiet_hours(moment):
            return moment
        local = timezone.localtime(moment)
        end = local.replace(
            hour=self.quiet_end.hour, minute=self.quiet_end.minute, second=0, microsecond=0
        )
        if end <= local:
            end += dt.timedelta(days=1)
        return end


class Campaign(TimeStampedModel):
    name = models.CharField(_("name"), max_length=120)
    kind = models.CharField(_("kind"), max_length=10, choices=CampaignKind.choices)
    status = models.CharField(
        _("status"), max_length=10, choices=CampaignStatus.choices, default=CampaignStatus.DRAFT
    )
    purpose = models.CharField(
        _("purpose"), max_length=10, choices=Purpose.choices, default=Purpose.MARKETING
    )
    # Built-in journeys (the points-expiring reminder) keep a fixed slug and cannot be deleted.
    builtin = models.SlugField(max_length=40, blank=True, default="", editable=False)
    segment = models.ForeignKey(
        "analytics.Segment",
        verbose_name=_("segment"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    snapshot = models.ForeignKey(
        "analytics.SegmentSnapshot",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        editable=False,
    )
    channels = models.JSONField(_("channels"), default=list)
    scheduled_at = models.DateTimeField(_("send at"), null=True, blank=True)
    trigger = models.CharField(_("trigger"), max_length=24, choices=Trigger.choices, blank=True)
    trigger_days = models.PositiveSmallIntegerField(
        _("days"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(3650)],
        help_text=_("For a win-back journey: days since the last purchase."),
    )
    delay_hours = models.PositiveIntegerField(
        _("delay (hours)"),
        default=0,
        validators=[MaxValueValidator(24 * 90)],
        help_text=_("Wait this long after the trigger before sending."),
    )
    offer_kind = models.CharField(
        _("offer"), max_length=12, choices=OfferKind.choices, default=OfferKind.NONE
    )
    coupon_kind = models.CharField(_("coupon kind"), max_length=16, blank=True)
    coupon_value = models.DecimalField(_("coupon value"), **MONEY, default=Decimal(0))
    coupon_min_spend = models.DecimalField(_("minimum spend"), **MONEY, default=Decimal(0))
    coupon_valid_days = models.PositiveSmallIntegerField(
        _("coupon valid for (days)"), default=30, validators=[MaxValueValidator(3650)]
    )
    bonus_points = models.PositiveIntegerField(_("bonus points"), default=0)
    multiplier = models.DecimalField(
        _("points multiplier"), max_digits=5, decimal_places=2, default=Decimal(1)
    )
    multiplier_days = models.PositiveSmallIntegerField(
        _("multiplier for (days)"), default=7, validators=[MaxValueValidator(365)]
    )
    earn_rule = models.ForeignKey(
        "loyalty.EarnRule",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    holdout_percent = models.PositiveSmallIntegerField(
        _("holdout (%)"),
        default=10,
        validators=[MaxValueValidator(50)],
        help_text=_("This share of the audience receives nothing, to measure the uplift."),
    )
    cost_per_message = models.DecimalField(_("cost per message"), **MONEY, default=Decimal(0))
    budget = models.DecimalField(_("budget"), **MONEY, null=True, blank=True)
    spent = models.DecimalField(_("spent"), **MONEY, default=Decimal(0), editable=False)
    conversion_days = models.PositiveSmallIntegerField(
        _("conversion window (days)"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(90)],
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    audience_size = models.PositiveIntegerField(_("audience"), default=0, editable=False)
    # Set when every customer of a broadcast's snapshot has been placed (queued, suppressed or
    # held out): from then on the send completes when nothing is left queued.
    placed_at = models.DateTimeField(null=True, blank=True, editable=False)
    started_at = models.DateTimeField(_("started"), null=True, blank=True, editable=False)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")
        ordering = ["-created_at", "-pk"]
        permissions = [
            ("send_campaign", _("Can start, pause and stop campaigns")),
            ("view_campaign_results", _("Can read campaign results")),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["builtin"], condition=~Q(builtin=""), name="campaign_builtin_once"
            ),
            models.CheckConstraint(
                condition=Q(holdout_percent__lte=50), name="campaign_holdout_at_most_half"
            ),
            models.CheckConstraint(condition=Q(spent__gte=0), name="campaign_spent_gte_0"),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        unknown = set(self.channels or []) - set(Channel.values)
        if unknown:
            raise ValidationError({"channels": _("Unknown channel.")})

    @property
    def is_triggered(self) -> bool:
        return self.kind == CampaignKind.TRIGGERED

    @property
    def can_edit(self) -> bool:
        return self.status in (CampaignStatus.DRAFT, CampaignStatus.SCHEDULED)


class Variant(models.Model):
    """One version of the content. ``subject`` and ``body`` serve e-mail and the portal inbox,
    ``sms_body`` the text message; each exists in both languages (modeltranslation)."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="variants")
    label = models.CharField(_("label"), max_length=20, default="A")
    weight = models.PositiveSmallIntegerField(
        _("weight"), default=1, validators=[MinValueValidator(1), MaxValueValidator(100)]
    )
    subject = models.CharField(_("subject"), max_length=200, blank=True)
    body = models.TextField(_("message"), blank=True)
    sms_body = models.TextField(_("SMS text"), blank=True)

    class Meta:
        verbose_name = _("variant")
        verbose_name_plural = _("variants")
        ordering = ["campaign", "label", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "label"], name="variant_label_once")
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id}/{self.label}"


class Message(models.Model):
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="messages")
    step = models.CharField(_("step"), max_length=64)
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="campaign_messages"
    )
    variant = models.ForeignKey(
        Variant, null=True, blank=True, on_delete=models.PROTECT, related_name="messages"
    )
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=MessageStatus.choices)
    reason = models.CharField(
        _("reason"), max_length=16, choices=Suppression.choices, blank=True, default=""
    )
    error = models.CharField(_("error"), max_length=255, blank=True, default="")
    marketing = models.BooleanField(default=True)
    language = models.CharField(max_length=10, blank=True, default="")
    created_at = models.DateTimeField(_("assigned"), default=timezone.now)
    not_before = models.DateTimeField(_("not before"), default=timezone.now)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered"), null=True, blank=True)
    opened_at = models.DateTimeField(_("opened"), null=True, blank=True)
    clicked_at = models.DateTimeField(_("clicked"), null=True, blank=True)
    unsubscribed_at = models.DateTimeField(_("unsubscribed"), null=True, blank=True)
    provider_id = models.CharField(max_length=100, blank=True, default="")
    coupon = models.ForeignKey(
        "loyalty.Coupon", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    cost = models.DecimalField(_("cost"), **MONEY, default=Decimal(0))

    class Meta:
        verbose_name = _("campaign message")
        verbose_name_plural = _("campaign messages")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "step", "customer"], name="campaign_message_once"
            ),
        ]
        indexes = [
            models.Index(fields=["customer", "created_at"], name="campaign_msg_customer_at"),
            models.Index(
                fields=["campaign", "not_before"],
                condition=Q(status="queued"),
                name="campaign_msg_queued",
            ),
            models.Index(
                fields=["provider_id"], condition=~Q(provider_id=""), name="campaign_msg_provider"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id}:{self.step}:{self.customer_id} {self.status}"

    @property
    def is_holdout(self) -> bool:
        return self.status == MessageStatus.HOLDOUT
