"""The programme's configuration: settings, tiers and earn rules."""

from decimal import Decimal

from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from apps.core.models import TimeStampedModel
from apps.customers.enums import OrderChannel

from ..enums import (
    EarnEvent,
    EarnRuleKind,
    ExpiryPolicy,
    TierMetric,
)

MONEY = {"max_digits": 12, "decimal_places": 2}


class Programme(TimeStampedModel):
    """The programme's settings: one row (``Programme.get()``)."""

    name = models.CharField(_("name"), max_length=100, default="Clientele Rewards")
    points_per_currency_unit = models.DecimalField(
        _("points per currency unit"), max_digits=8, decimal_places=3, default=Decimal(1)
    )
    point_value = models.DecimalField(
        _("value of one point"),
        max_digits=8,
        decimal_places=4,
        default=Decimal("0.01"),
        help_text=_("In the programme currency; used for the points liability."),
    )
    expiry_policy = models.CharField(
        _("expiry policy"),
        max_length=12,
        choices=ExpiryPolicy.choices,
        default=ExpiryPolicy.ROLLING,
    )
    expiry_months = models.PositiveSmallIntegerField(_("months until expiry"), default=24)
    expiry_years = models.PositiveSmallIntegerField(
        _("clearing after N calendar years"), default=1, validators=[MinValueValidator(1)]
    )
    pending_days = models.PositiveSmallIntegerField(_("return window (days pending)"), default=14)
    signup_bonus = models.PositiveIntegerField(_("sign-up bonus"), default=100)
    birthday_bonus = models.PositiveIntegerField(_("birthday bonus"), default=200)
    referrer_bonus = models.PositiveIntegerField(_("referrer bonus"), default=300)
    referee_bonus = models.PositiveIntegerField(_("referred friend bonus"), default=200)
    reminder_days = models.PositiveSmallIntegerField(_("remind days before expiry"), default=30)
    tier_grace_days = models.PositiveSmallIntegerField(_("tier downgrade grace days"), default=30)
    survey_cooldown_days = models.PositiveSmallIntegerField(
        _("survey cooldown (days)"),
        default=30,
        help_text=_("Nobody is invited to a survey more often than this, across all surveys."),
    )
    adjustment_limit = models.PositiveIntegerField(
        _("adjustment limit without approval"), default=500
    )

    class Meta:
        verbose_name = _("programme")
        verbose_name_plural = _("programme")

    def __str__(self) -> str:
        return self.name

    @classmethod
    def get(cls) -> "Programme":
        programme = cls.objects.order_by("pk").first()
        return programme if programme is not None else cls.objects.create()


class Tier(TimeStampedModel):
    name = models.CharField(_("name"), max_length=50)
    slug = models.SlugField(_("code"), max_length=30, unique=True)
    rank = models.PositiveSmallIntegerField(
        _("rank"), unique=True, help_text=_("0 is the entry tier.")
    )
    metric = models.CharField(
        _("qualifying metric"), max_length=8, choices=TierMetric.choices, default=TierMetric.SPEND
    )
    threshold = models.DecimalField(_("threshold to qualify"), **MONEY, default=Decimal(0))
    retention_threshold = models.DecimalField(_("threshold to keep"), **MONEY, default=Decimal(0))
    window_months = models.PositiveSmallIntegerField(_("rolling window (months)"), default=12)
    earn_multiplier = models.DecimalField(
        _("earn multiplier"), max_digits=5, decimal_places=2, default=Decimal(1)
    )
    benefits = models.TextField(_("benefits"), blank=True, help_text=_("One benefit per line."))
    entry_gift_points = models.PositiveIntegerField(_("entry gift (points)"), default=0)
    color = models.CharField(_("colour"), max_length=7, default="#6c757d")

    class Meta:
        verbose_name = _("tier")
        verbose_name_plural = _("tiers")
        ordering = ["rank"]
        constraints = [
            models.CheckConstraint(
                condition=Q(retention_threshold__lte=F("threshold")),
                name="loyalty_tier_retention_lte_threshold",
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def benefit_list(self) -> list[str]:
        return [line.strip() for line in self.benefits.splitlines() if line.strip()]


class EarnRule(TimeStampedModel):
    """A rule adding to the base rate. Multipliers apply to matching spend; bonuses add points
    to an order or to an event. How priority and stacking combine rules is defined in
    ``apps.loyalty.rules``; what each kind needs is checked by
    ``services.configuration.earn_rule_problems``."""

    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=16, choices=EarnRuleKind.choices)
    multiplier = models.DecimalField(
        _("multiplier"),
        max_digits=5,
        decimal_places=2,
        default=Decimal(1),
        validators=[MinValueValidator(0)],
    )
    bonus_points = models.PositiveIntegerField(_("bonus points"), default=0)
    category = models.CharField(_("category"), max_length=80, blank=True)
    sku = models.CharField(_("SKU"), max_length=64, blank=True)
    store = models.ForeignKey(
        "customers.Store", verbose_name=_("store"), null=True, blank=True, on_delete=models.CASCADE
    )
    channel = models.CharField(
        _("channel"), max_length=12, blank=True, choices=OrderChannel.choices
    )
    event = models.CharField(
        _("event"),
        max_length=32,
        blank=True,
        choices=EarnEvent.choices,
        help_text=_("For an event bonus: what the member does to earn it."),
    )
    min_spend = models.DecimalField(_("minimum spend"), **MONEY, default=Decimal(0))
    tiers = models.ManyToManyField(Tier, verbose_name=_("only for tiers"), blank=True)
    # Analytics sits above loyalty: a string reference, and the check is analytics' condition.
    segment = models.ForeignKey(
        "analytics.Segment",
        verbose_name=_("only for the segment"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    # A campaign's points multiplier: the rule applies to the campaign's recipients for the
    # campaign's number of days after their message (``CONDITIONS["campaign"]``, registered by
    # the campaigns app).
    campaign = models.ForeignKey(
        "campaigns.Campaign",
        verbose_name=_("only for the campaign's recipients"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        editable=False,
    )
    priority = models.PositiveSmallIntegerField(_("priority"), default=100)
    stackable = models.BooleanField(_("stacks with other rules"), default=True)
    starts_at = models.DateTimeField(_("starts"), null=True, blank=True)
    ends_at = models.DateTimeField(_("ends"), null=True, blank=True)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("earn rule")
        verbose_name_plural = _("earn rules")
        ordering = ["-priority", "id"]

    def __str__(self) -> str:
        return self.name


class ConfigurationVersion(models.Model):
    """One row whose number moves whenever the programme, a tier, an earn rule (or its tiers) or
    a badge changes: statement triggers on those tables set it from a sequence (PostgreSQL,
    migration 0018), so it never repeats, even after a rolled-back change. A process keeps its
    snapshot of the configuration while the number stays (``apps.loyalty.configuration``)."""

    version = models.BigIntegerField(default=0)

    class Meta:
        verbose_name = _("configuration version")

    def __str__(self) -> str:
        return str(self.version)
