"""Accounts and the append-only points ledger: transactions, lots, their allocations, tier
history and manual adjustments."""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.core.models import TimeStampedModel

from ..enums import (
    AdjustmentStatus,
    LotStatus,
    TxKind,
)
from .programme import MONEY, Tier


class LoyaltyAccount(TimeStampedModel):
    customer = models.OneToOneField(
        "customers.Customer", on_delete=models.PROTECT, related_name="loyalty_account"
    )
    balance = models.BigIntegerField(_("balance"), default=0)  # written only by services
    pending = models.BigIntegerField(_("pending"), default=0)
    lifetime_earned = models.BigIntegerField(_("lifetime earned"), default=0)
    debt = models.BigIntegerField(
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
    points = models.BigIntegerField(_("points"), default=0)
    pending_points = models.BigIntegerField(_("pending points"), default=0)
    balance_after = models.BigIntegerField(_("balance after"))
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
    campaign = models.ForeignKey(
        "campaigns.Campaign",
        verbose_name=_("campaign"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # What the row's description is built from, beyond its links (``apps.loyalty.describe``):
    # ids and codes, never text -- e.g. {"tier": 3, "multiplier": "1.2", "rules": [7]} for an
    # order, {"bonus": "birthday"}, {"bonus": "badge", "badge": 4}. Written once with the row
    # (the append-only trigger refuses later changes); not part of the hash chain, so it adds
    # nothing to what ``verify_ledger`` proves and rows written before it existed read "{}".
    detail = models.JSONField(_("detail"), default=dict, db_default={}, blank=True, editable=False)
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
    points = models.PositiveBigIntegerField(_("points"))
    remaining = models.PositiveBigIntegerField(_("remaining"))
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
    points = models.PositiveBigIntegerField()

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

    @property
    def change_label(self) -> str:
        """What happened, in the reader's language, from the two tiers (the stored ``reason``
        is the writer's language at the time)."""
        before, after = self.from_tier, self.to_tier
        if after is None:
            return str(_("Left the tier ladder"))
        if before is None or after.rank > before.rank:
            return str(_("Qualified for %(tier)s") % {"tier": after.name})
        if after.pk == before.pk:
            return str(_("Kept %(tier)s at review") % {"tier": after.name})
        return str(_("Moved down to %(tier)s at review") % {"tier": after.name})


class PointsAdjustment(models.Model):
    """A staff request to add or remove points. Above the programme's limit a manager approves
    it before the ledger changes."""

    account = models.ForeignKey(
        LoyaltyAccount, on_delete=models.PROTECT, related_name="adjustments"
    )
    points = models.BigIntegerField(_("points"))
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
