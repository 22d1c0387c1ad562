from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.core.models import TimeStampedModel
from apps.customers.enums import OrderChannel

from .enums import (
    AdjustmentStatus,
    CouponKind,
    EarnEvent,
    EarnRuleKind,
    ExpiryPolicy,
    LotStatus,
    RedemptionStatus,
    ReferralStatus,
    RewardKind,
    TierMetric,
    TxKind,
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


class LoyaltyAccount(TimeStampedModel):
    customer = models.OneToOneField(
        "customers.Customer", on_delete=models.PROTECT, related_name="loyalty_account"
    )
    balance = models.IntegerField(_("balance"), default=0)  # written only by services
    pending = models.IntegerField(_("pending"), default=0)
    lifetime_earned = models.IntegerField(_("lifetime earned"), default=0)
    debt = models.IntegerField(
        _("points owed"),
        default=0,
        help_text=_("Clawback not yet settled; taken from future earnings."),
    )
    tier = models.ForeignKey(
        Tier, verbose_name=_("tier"), null=True, blank=True, on_delete=models.PROTECT
    )
    tier_since = models.DateTimeField(_("tier since"), null=True, blank=True)
    tier_review_at = models.DateField(_("tier review date"), null=True, blank=True)
    last_hash = models.CharField(max_length=64, default="", editable=False)

    class Meta:
        verbose_name = _("loyalty account")
        verbose_name_plural = _("loyalty accounts")
        constraints = [
            models.CheckConstraint(
                condition=Q(balance__gte=0), name="loyalty_account_balance_gte_0"
            ),
            models.CheckConstraint(
                condition=Q(pending__gte=0), name="loyalty_account_pending_gte_0"
            ),
            models.CheckConstraint(condition=Q(debt__gte=0), name="loyalty_account_debt_gte_0"),
        ]
        permissions = [
            ("adjust_points", _("Can adjust points")),
            ("approve_adjustment", _("Can approve points adjustments above the limit")),
            ("view_liability", _("Can view the points liability report")),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id}: {self.balance}"


class PointsTransaction(models.Model):
    """The append-only ledger. ``points`` changes the spendable balance, ``pending_points`` the
    pending balance. Each row chains the previous row's hash of the same account, so editing or
    deleting history is detectable (``verify_ledger``); on PostgreSQL a trigger also rejects
    UPDATE and DELETE outright."""

    account = models.ForeignKey(
        LoyaltyAccount, on_delete=models.PROTECT, related_name="transactions"
    )
    kind = models.CharField(_("kind"), max_length=12, choices=TxKind.choices)
    points = models.IntegerField(_("points"), default=0)
    pending_points = models.IntegerField(_("pending points"), default=0)
    balance_after = models.IntegerField(_("balance after"))
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    order = models.ForeignKey(
        "customers.Order", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    refund = models.ForeignKey(
        "customers.Refund", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    redemption = models.ForeignKey(
        "loyalty.Redemption",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="transactions",
    )
    lot = models.ForeignKey(
        "loyalty.PointsLot", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    source_ref = models.CharField(
        _("source"),
        max_length=64,
        blank=True,
        help_text=_("Ticket, campaign or other origin, e.g. C-2026-000123."),
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    idempotency_key = models.CharField(max_length=120, unique=True)
    created_at = models.DateTimeField(_("at"), default=timezone.now)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    class Meta:
        verbose_name = _("points transaction")
        verbose_name_plural = _("points transactions")
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["account", "-id"]),
            models.Index(fields=["kind", "created_at"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(balance_after__gte=0), name="loyalty_tx_balance_after_gte_0"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.points:+d}"


class PointsLot(models.Model):
    """Points earned together. Spending takes from the soonest-expiring lots first;
    ``balance == Σ remaining`` of available lots and ``pending == Σ remaining`` of pending lots."""

    account = models.ForeignKey(LoyaltyAccount, on_delete=models.PROTECT, related_name="lots")
    points = models.PositiveIntegerField(_("points"))
    remaining = models.PositiveIntegerField(_("remaining"))
    status = models.CharField(_("status"), max_length=10, choices=LotStatus.choices)
    earned_at = models.DateTimeField(_("earned"))
    available_at = models.DateTimeField(_("available from"))
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True)
    order = models.ForeignKey(
        "customers.Order", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reminded_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("points lot")
        verbose_name_plural = _("points lots")
        ordering = ["expires_at", "earned_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(remaining__lte=F("points")), name="loyalty_lot_remaining_lte_points"
            )
        ]
        indexes = [
            models.Index(fields=["account", "status", "expires_at"]),
            models.Index(fields=["status", "expires_at"], name="loyalty_lot_due_idx"),
            models.Index(fields=["status", "available_at"], name="loyalty_lot_mature_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.remaining}/{self.points} ({self.status})"


class LotAllocation(models.Model):
    """Which lots a debit took points from, so a cancelled redemption restores points to the
    same lots with their original expiry."""

    transaction = models.ForeignKey(
        PointsTransaction, on_delete=models.PROTECT, related_name="allocations"
    )
    lot = models.ForeignKey(PointsLot, on_delete=models.PROTECT, related_name="allocations")
    points = models.PositiveIntegerField()

    class Meta:
        verbose_name = _("lot allocation")
        verbose_name_plural = _("lot allocations")

    def __str__(self) -> str:
        return f"{self.points} from lot {self.lot_id}"


class TierHistory(models.Model):
    account = models.ForeignKey(
        LoyaltyAccount, on_delete=models.CASCADE, related_name="tier_history"
    )
    from_tier = models.ForeignKey(
        Tier, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    to_tier = models.ForeignKey(
        Tier, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    at = models.DateTimeField(_("at"), default=timezone.now)
    reason = models.CharField(_("reason"), max_length=200)
    qualifying_value = models.DecimalField(_("qualifying value"), **MONEY, default=Decimal(0))

    class Meta:
        verbose_name = _("tier change")
        verbose_name_plural = _("tier history")
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.from_tier} → {self.to_tier}"


class PointsAdjustment(models.Model):
    """A staff request to add or remove points. Above the programme's limit a manager approves
    it before the ledger changes."""

    account = models.ForeignKey(
        LoyaltyAccount, on_delete=models.PROTECT, related_name="adjustments"
    )
    points = models.IntegerField(_("points"))
    reason = models.CharField(_("reason"), max_length=200)
    status = models.CharField(_("status"), max_length=10, choices=AdjustmentStatus.choices)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    requested_at = models.DateTimeField(default=timezone.now)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    transaction = models.OneToOneField(
        PointsTransaction, null=True, blank=True, on_delete=models.PROTECT
    )

    class Meta:
        verbose_name = _("points adjustment")
        verbose_name_plural = _("points adjustments")
        ordering = ["-requested_at"]
        constraints = [
            models.CheckConstraint(condition=~Q(points=0), name="loyalty_adjustment_nonzero")
        ]

    def __str__(self) -> str:
        return f"{self.points:+d} ({self.status})"


class Reward(TimeStampedModel):
    name = models.CharField(_("name"), max_length=120)
    slug = models.SlugField(_("code"), max_length=60, unique=True)
    kind = models.CharField(_("kind"), max_length=12, choices=RewardKind.choices)
    description = models.TextField(_("description"), blank=True)
    cost_points = models.PositiveIntegerField(
        _("cost in points"), validators=[MinValueValidator(1)]
    )
    stock = models.PositiveIntegerField(
        _("stock"), null=True, blank=True, help_text=_("Empty = unlimited.")
    )
    per_member_limit = models.PositiveIntegerField(_("limit per member"), null=True, blank=True)
    min_tier = models.ForeignKey(
        Tier, verbose_name=_("minimum tier"), null=True, blank=True, on_delete=models.PROTECT
    )
    starts_at = models.DateTimeField(_("available from"), null=True, blank=True)
    ends_at = models.DateTimeField(_("available until"), null=True, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    image = models.ImageField(_("image"), upload_to="rewards/", blank=True)
    # Voucher rewards issue a coupon with these terms.
    coupon_kind = models.CharField(
        _("voucher kind"), max_length=14, choices=CouponKind.choices, blank=True
    )
    coupon_value = models.DecimalField(_("voucher value"), **MONEY, default=Decimal(0))
    coupon_valid_days = models.PositiveSmallIntegerField(_("voucher valid days"), default=90)
    coupon_min_spend = models.DecimalField(_("voucher minimum spend"), **MONEY, default=Decimal(0))

    class Meta:
        verbose_name = _("reward")
        verbose_name_plural = _("rewards")
        ordering = ["cost_points", "name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(stock__gte=0) | Q(stock__isnull=True), name="loyalty_reward_stock_gte_0"
            )
        ]

    def __str__(self) -> str:
        return self.name


class Redemption(TimeStampedModel):
    account = models.ForeignKey(
        LoyaltyAccount, on_delete=models.PROTECT, related_name="redemptions"
    )
    reward = models.ForeignKey(Reward, on_delete=models.PROTECT, related_name="redemptions")
    quantity = models.PositiveSmallIntegerField(
        _("quantity"), default=1, validators=[MinValueValidator(1), MaxValueValidator(100)]
    )
    points = models.PositiveIntegerField(_("points spent"))
    status = models.CharField(
        _("status"),
        max_length=10,
        choices=RedemptionStatus.choices,
        default=RedemptionStatus.REQUESTED,
    )
    voucher_code = models.CharField(_("voucher code"), max_length=40, blank=True)
    fulfilment_notes = models.TextField(_("fulfilment notes"), blank=True)
    fulfilled_at = models.DateTimeField(_("fulfilled"), null=True, blank=True)
    cancelled_at = models.DateTimeField(_("cancelled"), null=True, blank=True)
    channel = models.CharField(_("channel"), max_length=10, default="portal")
    idempotency_key = models.CharField(max_length=120, unique=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        verbose_name = _("redemption")
        verbose_name_plural = _("redemptions")
        ordering = ["-created_at", "-id"]
        permissions = [("fulfil_redemption", _("Can fulfil and cancel redemptions"))]

    def __str__(self) -> str:
        return f"{self.reward} × {self.quantity}"


class CouponBatch(TimeStampedModel):
    name = models.CharField(_("name"), max_length=120)
    kind = models.CharField(_("kind"), max_length=14, choices=CouponKind.choices)
    value = models.DecimalField(_("value"), **MONEY, default=Decimal(0))
    min_spend = models.DecimalField(_("minimum spend"), **MONEY, default=Decimal(0))
    valid_from = models.DateTimeField(_("valid from"), default=timezone.now)
    valid_until = models.DateTimeField(_("valid until"), null=True, blank=True)
    max_uses = models.PositiveIntegerField(_("uses per code"), default=1)
    max_uses_per_customer = models.PositiveIntegerField(_("uses per customer"), default=1)
    size = models.PositiveIntegerField(_("number of codes"), default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("coupon batch")
        verbose_name_plural = _("coupon batches")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name


class Coupon(TimeStampedModel):
    """A code worth a discount. Codes carry at least 128 bits of randomness in a typable
    alphabet (no 0/O, 1/I/L)."""

    code = models.CharField(_("code"), max_length=40, unique=True)
    batch = models.ForeignKey(
        CouponBatch, null=True, blank=True, on_delete=models.PROTECT, related_name="coupons"
    )
    kind = models.CharField(_("kind"), max_length=14, choices=CouponKind.choices)
    value = models.DecimalField(_("value"), **MONEY, default=Decimal(0))
    min_spend = models.DecimalField(_("minimum spend"), **MONEY, default=Decimal(0))
    valid_from = models.DateTimeField(_("valid from"), default=timezone.now)
    valid_until = models.DateTimeField(_("valid until"), null=True, blank=True)
    max_uses = models.PositiveIntegerField(_("maximum uses"), default=1)
    max_uses_per_customer = models.PositiveIntegerField(_("uses per customer"), default=1)
    uses = models.PositiveIntegerField(_("uses"), default=0)
    owner = models.ForeignKey(
        "customers.Customer",
        verbose_name=_("owner"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="coupons",
    )
    redemption = models.OneToOneField(
        Redemption, null=True, blank=True, on_delete=models.PROTECT, related_name="coupon"
    )
    source_ref = models.CharField(_("source"), max_length=64, blank=True)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("coupon")
        verbose_name_plural = _("coupons")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(uses__lte=F("max_uses")), name="loyalty_coupon_uses_lte_max"
            )
        ]

    def __str__(self) -> str:
        return self.code


class CouponUse(models.Model):
    coupon = models.ForeignKey(Coupon, on_delete=models.PROTECT, related_name="use_rows")
    customer = models.ForeignKey(
        "customers.Customer", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    order = models.ForeignKey(
        "customers.Order", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    store = models.ForeignKey(
        "customers.Store", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    order_external_id = models.CharField(max_length=64)
    discount = models.DecimalField(**MONEY, default=Decimal(0))
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("coupon use")
        verbose_name_plural = _("coupon uses")
        constraints = [
            models.UniqueConstraint(
                fields=["coupon", "store", "order_external_id"],
                name="loyalty_coupon_use_once_per_order",
            )
        ]

    def __str__(self) -> str:
        return f"{self.coupon_id} on {self.order_external_id}"


class Referral(TimeStampedModel):
    referrer = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, related_name="referrals_made"
    )
    referee = models.OneToOneField(
        "customers.Customer", on_delete=models.PROTECT, related_name="referred_by"
    )
    code = models.CharField(_("code"), max_length=20)
    status = models.CharField(
        _("status"), max_length=10, choices=ReferralStatus.choices, default=ReferralStatus.PENDING
    )
    rewarded_at = models.DateTimeField(_("rewarded"), null=True, blank=True)
    refusal_reason = models.CharField(_("refusal reason"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("referral")
        verbose_name_plural = _("referrals")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(referrer=F("referee")), name="loyalty_referral_not_self"
            )
        ]

    def __str__(self) -> str:
        return f"{self.referrer_id} → {self.referee_id}"


class ReferralCode(models.Model):
    customer = models.OneToOneField(
        "customers.Customer", on_delete=models.CASCADE, related_name="referral_code"
    )
    code = models.CharField(_("code"), max_length=20, unique=True)

    class Meta:
        verbose_name = _("referral code")
        verbose_name_plural = _("referral codes")

    def __str__(self) -> str:
        return self.code


class Badge(TimeStampedModel):
    slug = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=80)
    description = models.CharField(_("description"), max_length=200, blank=True)
    rule = models.CharField(_("rule"), max_length=40, help_text=_("Which milestone earns it."))
    threshold = models.PositiveIntegerField(_("threshold"), default=1)
    bonus_points = models.PositiveIntegerField(_("bonus points"), default=0)
    icon = models.CharField(_("icon"), max_length=40, default="award")
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("badge")
        verbose_name_plural = _("badges")
        ordering = ["threshold", "name"]

    def __str__(self) -> str:
        return self.name


class CustomerBadge(models.Model):
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="badges"
    )
    badge = models.ForeignKey(Badge, on_delete=models.PROTECT, related_name="holders")
    awarded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("customer badge")
        verbose_name_plural = _("customer badges")
        constraints = [
            models.UniqueConstraint(fields=["customer", "badge"], name="loyalty_badge_once")
        ]

    def __str__(self) -> str:
        return f"{self.customer_id}: {self.badge_id}"


from .models_verification import LedgerVerification  # noqa: E402, F401 - see that module
