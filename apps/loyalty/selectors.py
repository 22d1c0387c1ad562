"""Reads for the loyalty engine."""

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Count, F, Min, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.translation import gettext as _

from apps.core import formatting
from apps.core.exceptions import NotFound
from apps.core.timeline import TimelineEvent
from apps.customers.models import Customer, Order

from .codes import code_compact
from .describe import LEDGER_RELATED, STAFF, LedgerLine, describe
from .enums import TX_GROUP_KINDS, LotStatus, RedemptionStatus, TierMetric, TxKind
from .exceptions import RewardNotFound
from .ledger import _add_months
from .models import (
    Coupon,
    CustomerBadge,
    EarnRule,
    LoyaltyAccount,
    PointsLot,
    PointsTransaction,
    Programme,
    Redemption,
    Referral,
    ReferralCode,
    Reward,
    Tier,
    TierHistory,
)

# Spend net of refunds: the SPEND metric of a tier over a window of orders.
NET_SPEND = Coalesce(Sum("total"), Value(Decimal(0))) - Coalesce(
    Sum("refunded_amount"), Value(Decimal(0))
)


def _window_orders(customer_id, since: dt.datetime, as_of: dt.datetime) -> QuerySet[Order]:
    return Order.objects.filter(customer_id=customer_id, placed_at__gt=since, placed_at__lte=as_of)


# Points earned from purchases (net of clawbacks): the POINTS metric; bonuses do not qualify.
QUALIFYING_KINDS = (TxKind.EARN, TxKind.PENDING, TxKind.REFUND)
NET_POINTS = Coalesce(Sum("points"), Value(0)) + Coalesce(Sum("pending_points"), Value(0))


def _window_points(customer_id, since: dt.datetime, as_of: dt.datetime):
    # By the orders' customer, not the ledger row's account: after a merge the survivor's
    # purchases include those the merged-away membership earned on its own (now moved) orders.
    return PointsTransaction.objects.filter(
        kind__in=QUALIFYING_KINDS,
        order__customer_id=customer_id,
        created_at__gt=since,
        created_at__lte=as_of,
    )


def qualifying_subquery(*, metric: str, window_months: int, as_of: dt.datetime) -> Subquery:
    """A tier's qualifying value (``qualifying_value``) as a subquery on a query of accounts,
    for a caller that reads the account anyway (an order's account lock). NULL: nothing."""
    since = _add_months(as_of, -window_months)
    if metric == TierMetric.SPEND:
        rows, key, value = (
            _window_orders(OuterRef("customer_id"), since, as_of),
            "customer_id",
            NET_SPEND,
        )
    else:
        rows, key, value = (
            _window_points(OuterRef("customer_id"), since, as_of),
            "order__customer_id",
            NET_POINTS,
        )
    return Subquery(rows.order_by().values(key).annotate(v=value).values("v")[:1])


def qualifying_value(
    *, account: LoyaltyAccount, tier: Tier, as_of: dt.datetime | None = None
) -> Decimal:
    """Spend (net of refunds) or points earned over the tier's rolling window."""
    as_of = as_of or timezone.now()
    since = _add_months(as_of, -tier.window_months)
    if tier.metric == TierMetric.SPEND:
        return _window_orders(account.customer_id, since, as_of).aggregate(v=NET_SPEND)["v"]
    return Decimal(_window_points(account.customer_id, since, as_of).aggregate(v=NET_POINTS)["v"])


def earn_rules_active() -> tuple[list[EarnRule], dict[int, set[int]]]:
    """The active earn rules, and for each tier-limited one the ids of its tiers."""
    rules = list(EarnRule.objects.filter(is_active=True))
    rule_tiers: dict[int, set[int]] = {}
    if not rules:
        return rules, rule_tiers
    for rule_id, tier_id in EarnRule.tiers.through.objects.filter(earnrule__in=rules).values_list(
        "earnrule_id", "tier_id"
    ):
        rule_tiers.setdefault(rule_id, set()).add(tier_id)
    return rules, rule_tiers


def account_get(*, customer: Customer) -> LoyaltyAccount | None:
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
    return points_summary_of(account_get(customer=customer), expiring_days=expiring_days)


def points_summary_of(
    account: LoyaltyAccount | None, *, expiring_days: int | None = 90
) -> PointsSummary:
    """``points_summary`` of an account already read with its tier (``account_get``); None for
    a customer without one. ``expiring_days=None``: without the points expiring soon (a page
    that does not show them saves the query)."""
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
    if expiring_days is None:
        return summary
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


def transaction_list(
    *,
    customer: Customer,
    group: str = "",
    since: dt.date | None = None,
    until: dt.date | None = None,
    order_id: int | None = None,
) -> QuerySet[PointsTransaction]:
    """The member's ledger, newest first, with what ``describe`` reads. ``group`` (a
    ``TxGroup``; blank for all) narrows the kinds; ``since`` and ``until`` are days in the
    business time zone, both included; ``order_id`` keeps the rows of one of the member's
    orders (earned, matured, refunded)."""
    qs = PointsTransaction.objects.filter(account__customer=customer)
    if group:
        qs = qs.filter(kind__in=TX_GROUP_KINDS.get(group, ()))
    if since is not None:
        qs = qs.filter(created_at__gte=_day_start(since))
    if until is not None:
        qs = qs.filter(created_at__lt=_day_start(until + dt.timedelta(days=1)))
    if order_id is not None:
        qs = qs.filter(order_id=order_id)
    return qs.select_related(*LEDGER_RELATED).order_by("-id")


def ledger_list(
    *,
    kind: str = "",
    since: dt.date | None = None,
    until: dt.date | None = None,
    member: str = "",
) -> QuerySet[PointsTransaction]:
    """The whole points ledger in the order it was written (the staff export): ``kind`` (a
    ``TxKind``; blank for all), ``since`` and ``until`` days in the business time zone, both
    included, ``member`` a member number."""
    qs = PointsTransaction.objects.all()
    if kind:
        qs = qs.filter(kind=kind)
    if since is not None:
        qs = qs.filter(created_at__gte=_day_start(since))
    if until is not None:
        qs = qs.filter(created_at__lt=_day_start(until + dt.timedelta(days=1)))
    if member:
        qs = qs.filter(account__customer__member_number=member)
    return qs.order_by("id")


def _day_start(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def lot_list(*, customer: Customer) -> QuerySet[PointsLot]:
    return PointsLot.objects.filter(account__customer=customer).order_by(
        F("expires_at").asc(nulls_last=True), "id"
    )


def tier_history(*, customer: Customer) -> QuerySet[TierHistory]:
    return TierHistory.objects.filter(account__customer=customer).select_related(
        "from_tier", "to_tier"
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


def ledger_recent(
    *, customer: Customer, limit: int, account: LoyaltyAccount | None = None
) -> list[LedgerLine]:
    """The newest ``limit`` rows of the member's ledger, described for staff (the 360° page's
    loyalty tab)."""
    account_id = (
        account.pk
        if account is not None
        else Subquery(LoyaltyAccount.objects.filter(customer=customer).values("pk")[:1])
    )
    return ledger_described(
        PointsTransaction.objects.filter(account_id=account_id).order_by("-id")[:limit]
    )


def ledger_described(rows: QuerySet[PointsTransaction]) -> list[LedgerLine]:
    """Ledger rows (ordered and sliced by the caller) described for staff, in at most two
    queries whatever the rows: the rows with their order, store, refund and lot, then, when
    some of them have one, their redemption, reward and actor. Not all eight tables in one
    join: PostgreSQL's join search grows exponentially with the tables, and plans that join in
    about 10 ms for a sub-millisecond execution; two joins of four or five plan in a fraction
    of a millisecond."""
    rows = list(rows.select_related("order__store", "refund", "lot"))
    if rows:
        # Most rows link neither (an order's points, expiry): then the second query is not run.
        linked_ids = [tx.pk for tx in rows if tx.redemption_id or tx.actor_id]
        links = PointsTransaction.objects.filter(pk__in=linked_ids) if linked_ids else None
        linked = (
            {
                tx.pk: tx
                for tx in links.select_related("redemption__reward", "actor").only(
                    "pk", "redemption", "actor"
                )
            }
            if links is not None
            else {}
        )
        for tx in rows:
            # Assigning through the relation caches the object (the ids are the same).
            link = linked.get(tx.pk)
            tx.redemption = link.redemption if link else None
            tx.actor = link.actor if link else None
    return describe(rows, audience=STAFF)


# The timeline's source (``apps.core.timeline``, registered in ``LoyaltyConfig.ready``).


def points_timeline_rows(*, customer: Customer) -> QuerySet[PointsTransaction]:
    return PointsTransaction.objects.filter(
        account_id=Subquery(LoyaltyAccount.objects.filter(customer=customer).values("pk")[:1])
    )


def points_timeline(
    rows: QuerySet[PointsTransaction], *, customer: Customer
) -> list[TimelineEvent]:
    return points_timeline_events(ledger_described(rows))


def points_timeline_events(lines: list[LedgerLine]) -> list[TimelineEvent]:
    """The timeline's events for ledger rows already described (``ledger_recent``)."""
    return [
        TimelineEvent(
            at=line.tx.created_at,
            kind="points",
            icon="star",
            title=_("%(what)s: %(points)s")
            % {"what": line.headline, "points": formatting.points(line.points, signed=True)},
            detail=line.detail_text,
        )
        for line in lines
    ]


# --- rewards, redemptions, coupons, referrals, badges (member-facing reads) -------------------


def reward_get(*, slug: str) -> Reward:
    """An active reward by its code, or RewardNotFound."""
    reward = Reward.objects.select_related("min_tier").filter(slug=slug, is_active=True).first()
    if reward is None:
        raise RewardNotFound()
    return reward


def reward_list_available(*, at: dt.datetime | None = None) -> QuerySet[Reward]:
    """Active rewards inside their window (cheapest first)."""
    at = at or timezone.now()
    return (
        Reward.objects.filter(is_active=True)
        .filter(Q(starts_at__isnull=True) | Q(starts_at__lte=at))
        .filter(Q(ends_at__isnull=True) | Q(ends_at__gte=at))
        .select_related("min_tier")
        .order_by("cost_points", "name")
    )


@dataclass(frozen=True)
class RewardOffer:
    reward: Reward
    can_redeem: bool
    reason: str  # why not, for the member ("" when redeemable)
    redeemed: int  # units already held (non-cancelled) by this member


def reward_offers_for_member(*, customer: Customer) -> list[RewardOffer]:
    """The catalogue as the member sees it: each available reward with whether they can redeem
    one now and, if not, why (tier, limit, stock, points). Three queries."""
    account = account_get(customer=customer)
    balance = account.balance if account else 0
    rank = account.tier.rank if account and account.tier else -1
    held = dict(
        Redemption.objects.filter(account=account)
        .exclude(status=RedemptionStatus.CANCELLED)
        .values("reward_id")
        .annotate(n=Sum("quantity"))
        .values_list("reward_id", "n")
        if account
        else []
    )
    offers = []
    for reward in reward_list_available():
        taken = held.get(reward.pk, 0)
        reason = ""
        if reward.min_tier_id and rank < reward.min_tier.rank:
            reason = _("For %(tier)s members and above.") % {"tier": reward.min_tier}
        elif reward.per_member_limit is not None and taken >= reward.per_member_limit:
            reason = _("You have reached the limit for this reward.")
        elif reward.stock is not None and reward.stock <= 0:
            reason = _("Out of stock.")
        elif balance < reward.cost_points:
            reason = _("You need %(n)s more points.") % {
                "n": number_format(reward.cost_points - balance, force_grouping=True)
            }
        offers.append(RewardOffer(reward, not reason, reason, taken))
    return offers


def redemption_list_for_member(*, customer: Customer) -> QuerySet[Redemption]:
    return (
        Redemption.objects.filter(account__customer=customer)
        .select_related("reward")
        .order_by("-created_at", "-id")
    )


def redemption_get_for_member(*, customer: Customer, pk: int) -> Redemption:
    """One of the member's own redemptions; another member's id is simply not found."""
    redemption = (
        redemption_list_for_member(customer=customer)
        .select_related("pickup_store")
        .filter(pk=pk)
        .first()
    )
    if redemption is None:
        raise NotFound()
    return redemption


@dataclass
class CouponWallet:
    active: list = field(default_factory=list)
    used: list = field(default_factory=list)
    expired: list = field(default_factory=list)


def coupon_wallet(*, customer: Customer, at: dt.datetime | None = None) -> CouponWallet:
    """The member's own coupons: usable now (or soon), used up, expired or switched off."""
    at = at or timezone.now()
    wallet = CouponWallet()
    for coupon in Coupon.objects.filter(owner=customer).order_by("valid_until", "-id"):
        if coupon.uses >= coupon.max_uses:
            wallet.used.append(coupon)
        elif not coupon.is_active or (coupon.valid_until and coupon.valid_until < at):
            wallet.expired.append(coupon)
        else:
            wallet.active.append(coupon)
    return wallet


def referral_list_for_member(*, customer: Customer) -> QuerySet[Referral]:
    """Friends the member referred, newest first."""
    return Referral.objects.filter(referrer=customer).select_related("referee")


def badge_list_for_member(*, customer: Customer) -> QuerySet[CustomerBadge]:
    return (
        CustomerBadge.objects.filter(customer=customer)
        .select_related("badge")
        .order_by("-awarded_at")
    )


def referral_code_get(*, code: str) -> ReferralCode | None:
    """A shared referral code as typed or linked (normalised like registration does), with its
    member; None when unknown or the member has left."""
    compact = code_compact(code)
    if not compact or len(compact) > 20:
        return None
    return (
        ReferralCode.objects.select_related("customer")
        .filter(code=compact, customer__anonymized_at__isnull=True)
        .first()
    )


def lots_expiring(*, within_days: int, as_of: dt.datetime | None = None):
    """Available lots expiring within the window that have not been reminded yet."""
    as_of = as_of or timezone.now()
    return PointsLot.objects.filter(
        status=LotStatus.AVAILABLE,
        remaining__gt=0,
        reminded_at__isnull=True,
        expires_at__gt=as_of,
        expires_at__lte=as_of + dt.timedelta(days=within_days),
    )


def points_expiring_by_customer(*, as_of: dt.datetime, within_days: int) -> dict[int, int]:
    """Per customer: available points that expire within ``within_days`` after ``as_of``."""
    rows = (
        PointsLot.objects.filter(
            status=LotStatus.AVAILABLE,
            remaining__gt=0,
            expires_at__gt=as_of,
            expires_at__lte=as_of + dt.timedelta(days=within_days),
        )
        .values("account__customer_id")
        .annotate(points=Sum("remaining"))
    )
    return {r["account__customer_id"]: r["points"] for r in rows}


def points_expiring_for(
    *, customer_ids: list[int], as_of: dt.datetime, within_days: int
) -> dict[int, tuple[int, dt.datetime]]:
    """For these customers: available points expiring within ``within_days`` after ``as_of``,
    and the first of those expiry times (one query)."""
    rows = (
        PointsLot.objects.filter(
            account__customer_id__in=customer_ids,
            status=LotStatus.AVAILABLE,
            remaining__gt=0,
            expires_at__gt=as_of,
            expires_at__lte=as_of + dt.timedelta(days=within_days),
        )
        .values("account__customer_id")
        .annotate(points=Sum("remaining"), first=Min("expires_at"))
    )
    return {r["account__customer_id"]: (r["points"], r["first"]) for r in rows}


def accounts_brief(*, customer_ids: list[int]) -> dict[int, tuple[int, int | None]]:
    """Balance and tier id per customer, for many customers in one query."""
    return {
        customer_id: (balance, tier_id)
        for customer_id, balance, tier_id in LoyaltyAccount.objects.filter(
            customer_id__in=customer_ids
        ).values_list("customer_id", "balance", "tier_id")
    }
