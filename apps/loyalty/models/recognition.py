"""Referrals and badges."""

from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.core.models import TimeStampedModel

from ..enums import (
    ReferralStatus,
)


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
