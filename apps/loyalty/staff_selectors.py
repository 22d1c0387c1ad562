"""Reads behind the staff loyalty pages: lists with their counts in one query, the fulfilment
queue, coupon batches, the liability report's series and the 360 page's loyalty panel. Every
function returns a fixed number of queries whatever the number of rows."""

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field

from django.db.models import Case, Count, F, Q, QuerySet, Sum, When, Window
from django.db.models.functions import Coalesce, TruncMonth
from django.utils import timezone

from apps.customers.models import Customer

from .describe import LedgerLine
from .enums import AdjustmentStatus, RedemptionStatus, RewardKind, TxKind
from .models import (
    Coupon,
    CouponBatch,
    CustomerBadge,
    EarnRule,
    LedgerVerification,
    LoyaltyAccount,
    PointsAdjustment,
    PointsLot,
    PointsTransaction,
    Redemption,
    Referral,
    Reward,
    Tier,
    TierHistory,
)
from .selectors import PointsSummary, account_get, ledger_recent, points_summary_of

# A nightly job: no finished run for longer than this means the scheduler is not running it.
LEDGER_VERIFICATION_STALE_AFTER = dt.timedelta(hours=36)
# Rewards someone has to hand over, ship or arrange; vouchers and donations complete at once.
FULFILMENT_KINDS = (RewardKind.PHYSICAL, RewardKind.EXPERIENCE)


def tier_list_with_members() -> QuerySet[Tier]:
    return Tier.objects.annotate(members=Count("loyaltyaccount")).order_by("rank")


def tier_new_defaults() -> dict:
    """What the "new tier" form starts from: the next rank above the top tier, with its metric,
    thresholds and window (the new tier must ask at least as much)."""
    top = Tier.objects.order_by("-rank").first()
    if top is None:
        return {"rank": 0}
    return {
        "rank": top.rank + 1,
        "metric": top.metric,
        "threshold": top.threshold,
        "retention_threshold": top.retention_threshold,
        "window_months": top.window_months,
    }


def earn_rule_list(*, active: str = "") -> QuerySet[EarnRule]:
    qs = EarnRule.objects.select_related("store").prefetch_related("tiers")
    if active == "yes":
        qs = qs.filter(is_active=True)
    elif active == "no":
        qs = qs.filter(is_active=False)
    return qs.order_by("-is_active", "-priority", "id")


def reward_list_for_staff(*, query: str = "", kind: str = "") -> QuerySet[Reward]:
    qs = Reward.objects.select_related("min_tier").annotate(
        redeemed=Coalesce(
            Sum("redemptions__quantity", filter=~Q(redemptions__status=RedemptionStatus.CANCELLED)),
            0,
        )
    )
    if query:
        qs = qs.filter(Q(name__icontains=query) | Q(slug__icontains=query))
    if kind:
        qs = qs.filter(kind=kind)
    return qs.order_by("-is_active", "cost_points", "name")


def fulfilment_queue(*, status: str = RedemptionStatus.REQUESTED) -> QuerySet[Redemption]:
    """Physical and experience redemptions in ``status``, oldest first (first come, first
    served), with the member and the pick-up store."""
    qs = Redemption.objects.filter(reward__kind__in=FULFILMENT_KINDS).select_related(
        "reward", "account__customer", "pickup_store"
    )
    if status:
        qs = qs.filter(status=status)
    order = ("created_at", "id") if status == RedemptionStatus.REQUESTED else ("-created_at", "-id")
    return qs.order_by(*order)


def coupon_batch_list() -> QuerySet[CouponBatch]:
    return (
        CouponBatch.objects.select_related("created_by")
        .annotate(used=Count("coupons", filter=Q(coupons__uses__gt=0)), codes=Count("coupons"))
        .order_by("-created_at", "-id")
    )


def coupon_batch_codes(*, batch: CouponBatch) -> Iterator[tuple]:
    """Rows for the export, streamed from the database in chunks."""
    return (
        Coupon.objects.filter(batch=batch)
        .order_by("id")
        .values_list(
            "code", "kind", "value", "min_spend", "valid_from", "valid_until", "max_uses", "uses"
        )
        .iterator(chunk_size=5000)
    )


def adjustments_pending_for_staff() -> QuerySet[PointsAdjustment]:
    return (
        PointsAdjustment.objects.filter(status=AdjustmentStatus.PENDING)
        .select_related("account__customer", "account__tier", "requested_by")
        .order_by("requested_at", "id")
    )


def adjustments_pending_oldest(*, limit: int = 5) -> tuple[list[PointsAdjustment], int]:
    """The ``limit`` adjustments waiting longest for a manager, and how many wait in all (one
    query: the total rides along as a window count)."""
    rows = list(adjustments_pending_for_staff().annotate(waiting=Window(Count("pk")))[:limit])
    return rows, rows[0].waiting if rows else 0


# --- liability report ---------------------------------------------------------------------------


@dataclass(frozen=True)
class MonthRow:
    month: dt.date
    issued: int
    redeemed: int
    expired: int


def liability_monthly(*, since: dt.datetime) -> list[MonthRow]:
    """Points issued, redeemed (net of cancellations) and expired per local month: one grouped
    query over the ledger's (kind, created_at) index."""
    tz = timezone.get_current_timezone()
    rows = (
        PointsTransaction.objects.filter(created_at__gte=since)
        .annotate(month=TruncMonth("created_at", tzinfo=tz))
        .values("month")
        .annotate(
            issued=Coalesce(
                Sum(
                    "points",
                    filter=Q(kind__in=[TxKind.EARN, TxKind.MATURE, TxKind.COMPENSATE])
                    | Q(kind=TxKind.ADJUST, points__gt=0),
                ),
                0,
            ),
            redeemed=Coalesce(Sum("points", filter=Q(kind__in=[TxKind.REDEEM, TxKind.REVERSE])), 0),
            expired=Coalesce(Sum("points", filter=Q(kind=TxKind.EXPIRE)), 0),
        )
        .order_by("month")
    )
    found = {
        _as_date(r["month"]): MonthRow(
            month=_as_date(r["month"]),
            issued=r["issued"],
            redeemed=-r["redeemed"],
            expired=-r["expired"],
        )
        for r in rows
    }
    out, month = [], timezone.localtime(since).date().replace(day=1)
    last = timezone.localdate().replace(day=1)
    while month <= last:  # months without activity show as zeros, so the chart's axis is even
        out.append(found.get(month, MonthRow(month=month, issued=0, redeemed=0, expired=0)))
        month = (month + dt.timedelta(days=32)).replace(day=1)
    return out


def _as_date(value) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value


def points_by_tier() -> list[dict]:
    """Members, outstanding and pending points per tier (members without a tier last)."""
    rows = (
        LoyaltyAccount.objects.values("tier_id", "tier__rank")
        .annotate(members=Count("id"), balance=Sum("balance"), pending=Sum("pending"))
        .order_by(F("tier__rank").asc(nulls_last=True))
    )
    # Names from the tier rows, not values(): a translated name read through values() has no
    # fallback to the other language.
    tiers = Tier.objects.in_bulk([r["tier_id"] for r in rows if r["tier_id"]])
    return [
        {
            "tier": tiers[r["tier_id"]].name if r["tier_id"] else None,
            "members": r["members"],
            "balance": r["balance"] or 0,
            "pending": r["pending"] or 0,
        }
        for r in rows
    ]


# --- the 360 page's loyalty panel -----------------------------------------------------------------


@dataclass
class LoyaltyPanel:
    customer: Customer
    summary: PointsSummary
    lots: list = field(default_factory=list)
    ledger: list[LedgerLine] = field(default_factory=list)  # the newest rows, described
    tier_history: list = field(default_factory=list)
    badges: list = field(default_factory=list)
    referrals: list = field(default_factory=list)
    referred_by: Referral | None = None
    redemptions: list = field(default_factory=list)
    adjustments_pending: list = field(default_factory=list)


def loyalty_panel(*, customer: Customer, ledger_rows: int = 50) -> LoyaltyPanel:
    """Everything the staff 360 page shows about a member's loyalty, in a bounded number of
    queries: open lots with expiry, the last ``ledger_rows`` ledger rows in words (``describe``),
    tier history, badges, referrals both ways, recent redemptions and adjustments waiting for
    approval."""
    account = account_get(customer=customer)
    # The panel lists the open lots with their expiry; it does not show the summary's
    # "expiring soon" figures, so they are not read.
    panel = LoyaltyPanel(customer=customer, summary=points_summary_of(account, expiring_days=None))
    panel.badges = list(
        CustomerBadge.objects.filter(customer=customer)
        .select_related("badge")
        .order_by("-awarded_at")
    )
    # Both ways in one query: who referred the member (at most one referral, first) and the
    # newest 20 the member made.
    referrals = list(
        Referral.objects.filter(Q(referrer=customer) | Q(referee=customer))
        .select_related("referrer", "referee")
        .order_by(Case(When(referee=customer, then=0), default=1), "-created_at")[:21]
    )
    if referrals and referrals[0].referee_id == customer.pk:
        panel.referred_by = referrals.pop(0)
    panel.referrals = referrals[:20]
    if account is None:
        return panel
    panel.lots = list(
        PointsLot.objects.filter(account=account, remaining__gt=0)
        .select_related("order")
        .order_by(F("expires_at").asc(nulls_last=True), "id")[:100]
    )
    panel.ledger = ledger_recent(customer=customer, account=account, limit=ledger_rows)
    panel.tier_history = list(
        TierHistory.objects.filter(account=account).select_related("from_tier", "to_tier")[:20]
    )
    panel.redemptions = list(
        Redemption.objects.filter(account=account).select_related("reward").order_by("-id")[:20]
    )
    panel.adjustments_pending = list(
        PointsAdjustment.objects.filter(account=account, status=AdjustmentStatus.PENDING)
        .select_related("requested_by")
        .order_by("requested_at")
    )
    return panel


def account_member_numbers(*, ids: set[int]) -> dict[int, str]:
    """Member number of each loyalty account id (one query; for links to the member's points
    page)."""
    return dict(
        LoyaltyAccount.objects.filter(pk__in=ids).values_list("pk", "customer__member_number")
    )


def ledger_verification_list() -> QuerySet[LedgerVerification]:
    """Every verification run, newest first, without the fault texts (one query per page)."""
    return LedgerVerification.objects.defer("faults").order_by("-started_at", "-id")


def ledger_verification_latest() -> LedgerVerification | None:
    """The newest finished verification run, with its faults."""
    return (
        LedgerVerification.objects.filter(finished_at__isnull=False)
        .order_by("-started_at", "-id")
        .first()
    )


def ledger_verification_stale(latest: LedgerVerification | None) -> bool:
    """True when no run has finished recently: the ledger is not being watched."""
    return latest is None or timezone.now() - latest.finished_at > LEDGER_VERIFICATION_STALE_AFTER


@dataclass(frozen=True)
class PointsFacts:
    balance: int
    pending: int
    tier: str


def points_facts_by_customer(*, ids: set[int]) -> dict[int, PointsFacts]:
    """Balance, pending points and tier name per customer id (one query; customers without an
    account are absent). For pages that list customers side by side (duplicates, merge)."""
    rows = list(
        LoyaltyAccount.objects.filter(customer_id__in=ids)
        .order_by()
        .values_list("customer_id", "balance", "pending", "tier_id")
    )
    # The tier's name from its row: values() would read only the active language's column.
    tiers = Tier.objects.in_bulk({t for *_rest, t in rows if t})
    return {
        cid: PointsFacts(balance=b, pending=p, tier=tiers[t].name if t else "")
        for cid, b, p, t in rows
    }
