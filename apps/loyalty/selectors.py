"""Reads for the loyalty engine."""

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Count, F, Q, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.core import timeline
from apps.core.timeline import TimelineEvent
from apps.customers.models import Customer

from .enums import LotStatus, TxKind
from .models import (
    LoyaltyAccount,
    PointsAdjustment,
    PointsLot,
    PointsTransaction,
    Programme,
    Tier,
    TierHistory,
)


def account_for(*, customer: Customer) -> LoyaltyAccount | None:
    return LoyaltyAccount.objects.select_related("tier").filter(customer=customer).first()


@dataclass
class PointsSummary:
    balance: int = 0
    pending: int = 0
    lifetime_earned: int = 0
    debt: int = 0
    tier: Tier | None = None
    next_tier: Tier | None = None
    qualifying_value: Decimal = Decimal(0)
    to_next_tier: Decimal = Decimal(0)
    progress_percent: int = 0
    tier_review_at: dt.date | None = None
    expiring: list[dict] = field(default_factory=list)


def points_summary(*, customer: Customer, expiring_days: int = 90) -> PointsSummary:
    """Balance, pending, tier and what is left to the next tier, and points expiring soon
    grouped by day."""
    from .services.tiers import qualifying_value  # read-only helper shared with the tier service

    account = account_for(customer=customer)
    if account is None:
        first = Tier.objects.order_by("rank").first()
        return PointsSummary(next_tier=first if first and first.threshold > 0 else None)
    tiers = list(Tier.objects.order_by("rank"))
    current_rank = account.tier.rank if account.tier else -1
    next_tier = next((t for t in tiers if t.rank > current_rank), None)
    summary = PointsSummary(
        balance=account.balance,
        pending=account.pending,
        lifetime_earned=account.lifetime_earned,
        debt=account.debt,
        tier=account.tier,
        next_tier=next_tier,
        tier_review_at=account.tier_review_at,
    )
    if next_tier is not None:
        value = qualifying_value(account=account, tier=next_tier)
        summary.qualifying_value = value
        summary.to_next_tier = max(next_tier.threshold - value, Decimal(0))
        summary.progress_percent = (
            int(min(value / next_tier.threshold * 100, 100)) if next_tier.threshold else 100
        )
    now = timezone.now()
    rows = (
        PointsLot.objects.filter(
            account=account,
            status=LotStatus.AVAILABLE,
            remaining__gt=0,
            expires_at__gt=now,
            expires_at__lte=now + dt.timedelta(days=expiring_days),
        )
        .annotate(day=TruncDate("expires_at", tzinfo=timezone.get_current_timezone()))
        .values("day")
        .annotate(points=Sum("remaining"))
        .order_by("day")
    )
    summary.expiring = [{"points": r["points"], "expires_on": r["day"]} for r in rows]
    return summary


def transaction_list(*, customer: Customer) -> QuerySet[PointsTransaction]:
    return (
        PointsTransaction.objects.filter(account__customer=customer)
        .select_related("order", "order__store", "redemption__reward", "actor")
        .order_by("-id")
    )


def lot_list(*, customer: Customer) -> QuerySet[PointsLot]:
    return PointsLot.objects.filter(account__customer=customer).order_by(
        F("expires_at").asc(nulls_last=True), "id"
    )


def tier_history(*, customer: Customer) -> QuerySet[TierHistory]:
    return TierHistory.objects.filter(account__customer=customer).select_related(
        "from_tier", "to_tier"
    )


def adjustments_pending() -> QuerySet[PointsAdjustment]:
    return (
        PointsAdjustment.objects.filter(status="pending")
        .select_related("account__customer", "requested_by")
        .order_by("requested_at")
    )


@dataclass(frozen=True)
class Liability:
    outstanding: int
    pending: int
    value: Decimal
    pending_value: Decimal
    issued: int
    redeemed: int
    expired: int
    breakage_rate: Decimal
    accounts: int


def liability_report(*, since: dt.datetime | None = None) -> Liability:
    """Outstanding points and their value; issued, redeemed and expired points; breakage =
    expired / (redeemed + expired)."""
    programme = Programme.get()
    acc = LoyaltyAccount.objects.aggregate(b=Sum("balance"), p=Sum("pending"), n=Count("id"))
    tx = PointsTransaction.objects.all()
    if since is not None:
        tx = tx.filter(created_at__gte=since)
    agg = tx.aggregate(
        issued=Sum(
            "points",
            filter=Q(kind__in=[TxKind.EARN, TxKind.MATURE, TxKind.COMPENSATE])
            | Q(kind=TxKind.ADJUST, points__gt=0),
        ),
        redeemed=Sum("points", filter=Q(kind=TxKind.REDEEM)),
        reversed=Sum("points", filter=Q(kind=TxKind.REVERSE)),
        expired=Sum("points", filter=Q(kind=TxKind.EXPIRE)),
    )
    redeemed = -(agg["redeemed"] or 0) - (agg["reversed"] or 0)
    expired = -(agg["expired"] or 0)
    outstanding, pending = acc["b"] or 0, acc["p"] or 0
    closed = redeemed + expired
    return Liability(
        outstanding=outstanding,
        pending=pending,
        value=(Decimal(outstanding) * programme.point_value).quantize(Decimal("0.01")),
        pending_value=(Decimal(pending) * programme.point_value).quantize(Decimal("0.01")),
        issued=agg["issued"] or 0,
        redeemed=redeemed,
        expired=expired,
        breakage_rate=(Decimal(expired) / closed).quantize(Decimal("0.0001"))
        if closed
        else Decimal(0),
        accounts=acc["n"] or 0,
    )


# --- timeline --------------------------------------------------------------------------------


@timeline.register
def _points_timeline(*, customer: Customer, limit: int) -> list[TimelineEvent]:
    rows = PointsTransaction.objects.filter(account__customer=customer).order_by("-id")[:limit]
    return [
        TimelineEvent(
            at=tx.created_at,
            kind="points",
            icon="star",
            title=_("%(kind)s: %(points)s points")
            % {"kind": tx.get_kind_display(), "points": f"{tx.points + tx.pending_points:+d}"},
            detail=tx.reason,
        )
        for tx in rows
    ]
