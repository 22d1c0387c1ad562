"""Customer value and segments.

``ModelFit`` keeps one fit of the customer-value models (BG/NBD, Gamma-Gamma and the back-tested
churn model, as plain JSON: parameters are numbers, never pickles). ``CustomerMetrics`` holds each
customer's figures as of a date, computed from orders up to that date only, so a recompute for
the same date gives the same rows. ``Segment`` is a condition tree (``segments.rules``) compiled to
one query; a ``SegmentSnapshot`` freezes who matched at a moment, for a campaign to send to.
``AtRiskEntry`` is one line of the weekly at-risk list. A ``ReportSubscription`` sends a report
by e-mail on a schedule in the business time zone; a ``ReportDelivery`` is its send for one
period, unique per (subscription, period), so a period is sent once whatever runs at the same time.
"""

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.core.models import TimeStampedModel

from .enums import (
    ChurnBand,
    DeliveryStatus,
    ReportFrequency,
    ReportKind,
    RFMSegment,
    SuggestedAction,
    Weekday,
)

MONEY = {"max_digits": 14, "decimal_places": 2}


class AnalyticsSettings(TimeStampedModel):
    """One row: how customer value is measured and who makes the at-risk list."""

    clv_months = models.PositiveSmallIntegerField(
        _("CLV horizon (months)"),
        default=12,
        validators=[MinValueValidator(1), MaxValueValidator(60)],
    )
    discount_rate = models.DecimalField(
        _("annual discount rate"),
        max_digits=4,
        decimal_places=3,
        default=Decimal("0.100"),
        validators=[MinValueValidator(Decimal(0)), MaxValueValidator(Decimal(1))],
        help_text=_("Future spend is worth this much less per year (0.10 = 10%)."),
    )
    horizon_days = models.PositiveSmallIntegerField(
        _("churn horizon (days)"),
        default=90,
        validators=[MinValueValidator(14), MaxValueValidator(365)],
        help_text=_("Churn risk is the chance of no purchase within this many days."),
    )
    high_risk = models.DecimalField(
        _("high risk from"),
        max_digits=3,
        decimal_places=2,
        default=Decimal("0.70"),
        validators=[MinValueValidator(Decimal("0.01")), MaxValueValidator(Decimal("0.99"))],
    )
    medium_risk = models.DecimalField(
        _("medium risk from"),
        max_digits=3,
        decimal_places=2,
        default=Decimal("0.40"),
        validators=[MinValueValidator(Decimal("0.01")), MaxValueValidator(Decimal("0.99"))],
    )
    at_risk_top_share = models.DecimalField(
        _("at-risk list: top share by CLV"),
        max_digits=3,
        decimal_places=2,
        default=Decimal("0.30"),
        validators=[MinValueValidator(Decimal("0.01")), MaxValueValidator(Decimal("1"))],
        help_text=_(
            "Of the customers at high risk, only those whose predicted CLV is in this top "
            "share make the list."
        ),
    )

    active_days = models.PositiveSmallIntegerField(
        _("active member window (days)"),
        default=90,
        validators=[MinValueValidator(7), MaxValueValidator(730)],
        help_text=_("A member counts as active with an order within this many days."),
    )

    class Meta:
        verbose_name = _("analytics settings")
        verbose_name_plural = _("analytics settings")

    def __str__(self) -> str:
        return str(_("analytics settings"))

    def clean(self) -> None:
        known = self.medium_risk is not None and self.high_risk is not None
        if known and self.medium_risk >= self.high_risk:
            raise ValidationError({"medium_risk": _("Medium risk must start below high risk.")})

    @classmethod
    def get(cls) -> "AnalyticsSettings":
        return cls.objects.order_by("pk").first() or cls.objects.create()


class ModelFit(models.Model):
    """One fit of the customer-value models on the orders up to ``as_of``."""

    as_of = models.DateField(_("as of"), db_index=True)
    fitted_at = models.DateTimeField(_("fitted"))
    customers = models.PositiveIntegerField(_("customers"))
    bgnbd = models.JSONField(_("BG/NBD parameters"))
    gamma_gamma = models.JSONField(_("Gamma-Gamma parameters"), null=True, blank=True)
    churn = models.JSONField(_("churn model"), null=True, blank=True)
    expected_repeat_purchases = models.FloatField(_("expected repeat purchases"))
    horizon_days = models.PositiveSmallIntegerField(_("horizon (days)"))
    seconds = models.FloatField(_("seconds"), default=0)

    class Meta:
        ordering = ["-fitted_at", "-pk"]
        verbose_name = _("model fit")
        verbose_name_plural = _("model fits")

    def __str__(self) -> str:
        return f"{self.as_of} ({self.customers})"


class CustomerMetrics(models.Model):
    customer = models.OneToOneField(
        "customers.Customer", on_delete=models.CASCADE, related_name="metrics", primary_key=True
    )
    as_of = models.DateField(_("as of"))
    fit = models.ForeignKey(ModelFit, null=True, blank=True, on_delete=models.SET_NULL)
    orders = models.PositiveIntegerField(_("orders"), default=0)
    spend = models.DecimalField(_("spend"), **MONEY, default=Decimal(0))
    first_order_on = models.DateField(_("first order"), null=True, blank=True)
    last_order_on = models.DateField(_("last order"), null=True, blank=True)
    recency_days = models.PositiveIntegerField(_("days since last order"), null=True, blank=True)
    frequency = models.PositiveIntegerField(_("repeat purchase days"), default=0)
    monetary = models.DecimalField(_("mean repeat order value"), **MONEY, default=Decimal(0))
    tenure_days = models.PositiveIntegerField(_("days since first order"), null=True, blank=True)
    r_score = models.PositiveSmallIntegerField(_("R"), null=True, blank=True)
    f_score = models.PositiveSmallIntegerField(_("F"), null=True, blank=True)
    m_score = models.PositiveSmallIntegerField(_("M"), null=True, blank=True)
    rfm_segment = models.CharField(
        _("RFM segment"), max_length=20, choices=RFMSegment.choices, blank=True, db_index=True
    )
    p_alive = models.FloatField(_("probability alive"), null=True, blank=True)
    expected_purchases = models.FloatField(_("expected purchases"), null=True, blank=True)
    expected_spend = models.DecimalField(
        _("expected spend per purchase"), **MONEY, null=True, blank=True
    )
    predicted_clv = models.DecimalField(_("predicted CLV"), **MONEY, null=True, blank=True)
    churn_risk = models.FloatField(_("churn risk"), null=True, blank=True)
    churn_band = models.CharField(
        _("churn band"), max_length=10, choices=ChurnBand.choices, blank=True, db_index=True
    )
    # The day the band last changed: the at-risk list takes those who rose into "high" lately.
    band_since = models.DateField(_("band since"), null=True, blank=True)
    health_score = models.PositiveSmallIntegerField(
        _("health score"), null=True, blank=True, validators=[MaxValueValidator(100)]
    )
    reasons = models.JSONField(_("reasons"), default=list, blank=True)
    computed_at = models.DateTimeField(_("computed"))

    class Meta:
        verbose_name = _("customer metrics")
        verbose_name_plural = _("customer metrics")
        indexes = [models.Index(fields=["churn_band", "predicted_clv"], name="metrics_band_clv")]

    def __str__(self) -> str:
        return f"{self.customer_id} @ {self.as_of}"


class Segment(TimeStampedModel):
    name = models.CharField(_("name"), max_length=120)
    description = models.TextField(_("description"), blank=True)
    rules = models.JSONField(_("rules"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    last_count = models.PositiveIntegerField(_("last count"), null=True, blank=True)
    counted_at = models.DateTimeField(_("counted"), null=True, blank=True)

    class Meta:
        ordering = ["name", "pk"]
        verbose_name = _("segment")
        verbose_name_plural = _("segments")

    def __str__(self) -> str:
        return self.name


class SegmentSnapshot(models.Model):
    """Who matched a segment at one moment; a campaign sends to this list, not to the rules."""

    segment = models.ForeignKey(Segment, on_delete=models.PROTECT, related_name="snapshots")
    taken_at = models.DateTimeField(_("taken"))
    taken_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    rules = models.JSONField(_("rules"))
    size = models.PositiveIntegerField(_("customers"))
    note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        ordering = ["-taken_at", "-pk"]
        verbose_name = _("segment snapshot")
        verbose_name_plural = _("segment snapshots")

    def __str__(self) -> str:
        return f"{self.segment} @ {self.taken_at:%Y-%m-%d %H:%M}"


class SnapshotMember(models.Model):
    snapshot = models.ForeignKey(SegmentSnapshot, on_delete=models.CASCADE, related_name="members")
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="segment_snapshots"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["snapshot", "customer"], name="snapshot_member_once")
        ]

    def __str__(self) -> str:
        return f"{self.snapshot_id}:{self.customer_id}"


class AtRiskEntry(models.Model):
    """A customer on the at-risk list of one week (``week`` is that week's Monday)."""

    week = models.DateField(_("week"), db_index=True)
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="at_risk_entries"
    )
    churn_risk = models.FloatField(_("churn risk"))
    predicted_clv = models.DecimalField(_("predicted CLV"), **MONEY)
    health_score = models.PositiveSmallIntegerField(_("health score"))
    reasons = models.JSONField(_("reasons"), default=list)
    action = models.CharField(_("suggested action"), max_length=10, choices=SuggestedAction.choices)
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assigned to"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    assigned_at = models.DateTimeField(_("assigned"), null=True, blank=True)

    class Meta:
        ordering = ["-week", "-predicted_clv", "pk"]
        verbose_name = _("at-risk customer")
        verbose_name_plural = _("at-risk customers")
        constraints = [
            models.UniqueConstraint(fields=["week", "customer"], name="at_risk_once_a_week")
        ]

    def __str__(self) -> str:
        return f"{self.week} {self.customer_id}"


class KPISnapshot(models.Model):
    """The KPIs as of the end of ``day`` over the standard trailing window (``kpis``), for the
    whole programme (scope ``all``), each store (``store:<id>``) and each tier (``tier:<id>``).
    Written once per (day, scope) by the nightly job or a back-fill; values are plain numbers
    keyed by KPI (``kpis.DEFINITIONS``), so a KPI added later is simply absent from old rows."""

    day = models.DateField(_("day"))
    scope = models.CharField(_("scope"), max_length=40, default="all")
    window_days = models.PositiveSmallIntegerField(_("window (days)"))
    values = models.JSONField(_("values"), default=dict)
    computed_at = models.DateTimeField(_("computed"), auto_now=True)

    class Meta:
        ordering = ["-day", "scope"]
        verbose_name = _("KPI snapshot")
        verbose_name_plural = _("KPI snapshots")
        constraints = [
            models.UniqueConstraint(fields=["day", "scope"], name="analytics_kpi_day_scope_uniq")
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.scope}"


class ReportSubscription(TimeStampedModel):
    """A report sent by e-mail to a role and/or addresses, weekly or monthly at ``hour`` in the
    business time zone (``TIME_ZONE``). Written only by ``services.reports``."""

    report = models.CharField(_("report"), max_length=20, choices=ReportKind.choices)
    frequency = models.CharField(
        _("frequency"), max_length=10, choices=ReportFrequency.choices, default="weekly"
    )
    weekday = models.PositiveSmallIntegerField(
        _("day of the week"), choices=Weekday.choices, null=True, blank=True
    )
    day_of_month = models.PositiveSmallIntegerField(
        _("day of the month"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(28)],
    )
    hour = models.PositiveSmallIntegerField(
        _("hour"), default=8, validators=[MaxValueValidator(23)]
    )
    role = models.ForeignKey(
        "auth.Group",
        verbose_name=_("role"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    addresses = models.JSONField(_("e-mail addresses"), default=list, blank=True)
    language = models.CharField(
        _("language for addresses"), max_length=10, choices=settings.LANGUAGES, default="en"
    )
    active = models.BooleanField(_("active"), default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # The last period claimed for sending (``2026-W10``, ``2026-03``): a conditional UPDATE on
    # it is the claim, so two runs at the same time never both send a period.
    last_sent_period = models.CharField(_("last period sent"), max_length=20, blank=True)
    last_sent_at = models.DateTimeField(_("last sent"), null=True, blank=True)

    class Meta:
        ordering = ["report", "pk"]
        verbose_name = _("report subscription")
        verbose_name_plural = _("report subscriptions")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(hour__gte=0, hour__lte=23), name="report_subscription_hour"
            ),
            models.CheckConstraint(
                condition=(
                    models.Q(frequency="weekly", weekday__gte=0, weekday__lte=6)
                    | models.Q(frequency="monthly", day_of_month__gte=1, day_of_month__lte=28)
                ),
                name="report_subscription_schedule",
            ),
            models.CheckConstraint(
                condition=~models.Q(report="at_risk") | models.Q(frequency="weekly"),
                name="report_subscription_at_risk_weekly",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_report_display()} ({self.get_frequency_display()})"


class ReportDelivery(models.Model):
    """One period of a subscription: claimed before anything is sent, then sent, skipped (an
    empty list) or failed. ``sent_to`` keeps the addresses that got it, so a retry after a
    failure sends only to the others."""

    subscription = models.ForeignKey(
        ReportSubscription, on_delete=models.CASCADE, related_name="deliveries"
    )
    period = models.CharField(_("period"), max_length=20)
    period_start = models.DateField(_("from"))
    period_end = models.DateField(_("to"))
    status = models.CharField(
        _("status"), max_length=10, choices=DeliveryStatus.choices, default="sending"
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=1)
    sent_to = models.JSONField(_("sent to"), default=list, blank=True)
    failed_to = models.JSONField(_("failed for"), default=list, blank=True)
    error = models.TextField(_("error"), blank=True)
    started_at = models.DateTimeField(_("started"))
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        ordering = ["-started_at", "-pk"]
        verbose_name = _("report delivery")
        verbose_name_plural = _("report deliveries")
        constraints = [
            models.UniqueConstraint(
                fields=["subscription", "period"], name="report_delivery_once_a_period"
            )
        ]

    def __str__(self) -> str:
        return f"{self.subscription_id} {self.period}"
