"""Rewards and redemptions, coupon batches, coupons and their uses."""

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.core.models import TimeStampedModel

from ..enums import (
    CouponKind,
    RedemptionStatus,
    RewardKind,
)
from .ledger import LoyaltyAccount
from .programme import MONEY, Tier


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
    points = models.PositiveBigIntegerField(_("points spent"))
    status = models.CharField(
        _("status"),
        max_length=10,
        choices=RedemptionStatus.choices,
        default=RedemptionStatus.REQUESTED,
    )
    voucher_code = models.CharField(_("voucher code"), max_length=40, blank=True)
    fulfilment_notes = models.TextField(_("fulfilment notes"), blank=True)
    # How a gift or experience reaches the member: collected at a store, or delivered to an
    # address (at most one; see ``services.redemption``). Personal data: erased with the member.
    pickup_store = models.ForeignKey(
        "customers.Store",
        verbose_name=_("pick-up store"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    delivery_address = models.TextField(_("delivery address"), blank=True, max_length=500)
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
