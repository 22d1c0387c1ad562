"""How a campaign did: reach and engagement, conversion and revenue per member against the
holdout with intervals and tests (``stats``), the winner among variants, costs and ROI.

Definitions (also in docs/decisions.md):

* *Treated*: every customer drawn into a variant (intent to treat — a message that later failed
  or was suppressed at send time still counts, so the comparison with the holdout stays fair).
  *Holdout*: every customer drawn into the holdout. Both are drawn among the customers who were
  reachable when placed.
* *Conversion*: an order (not fully refunded) within the conversion window after the message
  was sent, or after placement for the holdout and for messages never sent.
* *Revenue per member*: the total of those orders, zeros included.
* *Incremental revenue*: (treated mean − holdout mean) × treated customers.
* *Costs*: messages (cost per message, for those handed to a back-end), coupons redeemed
  (their discount), points given (bonus points, and a multiplier's extra points) at the
  programme's point value. *ROI* = (incremental revenue − costs) / costs.
"""

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import (
    DateTimeField,
    DecimalField,
    ExpressionWrapper,
    F,
    OuterRef,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce

from apps.customers.enums import OrderStatus
from apps.customers.models import Order
from apps.loyalty.models import CouponUse, PointsTransaction, Programme

from .enums import MessageStatus, OfferKind
from .models import Campaign, CampaignSettings, Message
from .stats import (
    MeanUplift,
    ProportionUplift,
    ab_winner,
    conversion_uplift,
    incremental_revenue,
    revenue_uplift,
    roi,
)

CENT = Decimal("0.01")
ZERO = Decimal(0)


@dataclass
class Group:
    label: str
    members: int = 0
    conversions: int = 0
    revenue: Decimal = ZERO
    values: list[float] = field(default_factory=list, repr=False)

    @property
    def conversion_rate(self) -> float | None:
        return self.conversions / self.members if self.members else None

    @property
    def revenue_per_member(self) -> Decimal:
        return (self.revenue / self.members).quantize(CENT) if self.members else ZERO


@dataclass
class VariantResult:
    group: Group
    conversion: ProportionUplift
    revenue: MeanUplift


@dataclass
class Results:
    campaign: Campaign
    window_days: int
    by_status: dict[str, int]
    by_reason: dict[str, int]
    by_channel: dict[str, int]
    reached: int
    delivered: int
    opened: int
    clicked: int
    unsubscribed: int
    treated: Group
    holdout: Group
    variants: list[VariantResult]
    conversion: ProportionUplift
    revenue: MeanUplift
    winner: str | None
    incremental_revenue: Decimal
    message_cost: Decimal
    coupon_cost: Decimal
    points_cost: Decimal
    roi: Decimal | None

    @property
    def costs(self) -> Decimal:
        return self.message_cost + self.coupon_cost + self.points_cost

    @property
    def has_holdout(self) -> bool:
        return self.holdout.members > 0


def conversion_window(campaign: Campaign) -> int:
    return campaign.conversion_days or CampaignSettings.get().conversion_days


def _assigned(qs, field: str, during: tuple[dt.datetime, dt.datetime] | None):
    """``qs`` narrowed to rows whose ``field`` falls in ``during`` (all rows without it)."""
    if during is None:
        return qs
    return qs.filter(**{f"{field}__gte": during[0], f"{field}__lt": during[1]})


def _groups(
    campaign: Campaign,
    window: dt.timedelta,
    during: tuple[dt.datetime, dt.datetime] | None = None,
) -> tuple[dict, Group]:
    base = Coalesce("sent_at", "created_at", output_field=DateTimeField())
    revenue = (
        Order.objects.filter(
            customer_id=OuterRef("customer_id"),
            placed_at__gte=OuterRef("base"),
            placed_at__lt=OuterRef("until"),
        )
        .exclude(status=OrderStatus.REFUNDED)
        .values("customer_id")
        .annotate(total=Sum("total"))
        .values("total")
    )
    rows = (
        _assigned(Message.objects.filter(campaign=campaign), "created_at", during)
        .exclude(
            variant__isnull=True, status__in=[s for s in MessageStatus.values if s != "holdout"]
        )
        .annotate(base=base)
        .annotate(until=ExpressionWrapper(F("base") + Value(window), output_field=DateTimeField()))
        .annotate(
            revenue=Coalesce(
                Subquery(revenue, output_field=DecimalField(max_digits=14, decimal_places=2)),
                Value(ZERO),
                output_field=DecimalField(max_digits=14, decimal_places=2),
            )
        )
        .values_list("variant__label", "status", "revenue")
    )
    variants: dict[str, Group] = defaultdict(lambda: Group(label=""))
    holdout = Group(label="holdout")
    for label, status, amount in rows:
        group = holdout if status == MessageStatus.HOLDOUT else variants[label]
        group.label = group.label or label
        group.members += 1
        group.conversions += amount > 0
        group.revenue += amount
        group.values.append(float(amount))
    return dict(sorted(variants.items())), holdout


def _costs(
    campaign: Campaign, during: tuple[dt.datetime, dt.datetime] | None = None
) -> tuple[Decimal, Decimal, Decimal]:
    messages = Message.objects.filter(campaign=campaign)
    messages = _assigned(messages, "created_at", during).aggregate(c=Sum("cost"))["c"] or ZERO
    uses = CouponUse.objects.filter(coupon__source_ref=f"campaign:{campaign.pk}")
    coupons = _assigned(uses, "at", during).aggregate(d=Sum("discount"))["d"] or ZERO
    ledger = _assigned(PointsTransaction.objects.filter(campaign=campaign), "created_at", during)
    points = ledger.aggregate(p=Sum(F("points") + F("pending_points")))["p"] or 0
    if campaign.offer_kind == OfferKind.MULTIPLIER and campaign.multiplier > 1:
        # Only the extra the multiplier added is the campaign's cost, not the points the
        # order would have earned anyway.
        points = Decimal(points) * (campaign.multiplier - 1) / campaign.multiplier
    value = Programme.get().point_value
    return messages, coupons, (Decimal(points) * value).quantize(CENT)


@dataclass(frozen=True)
class Return:
    """What campaigns brought and cost over a stretch of time (the KPI dashboard's figures)."""

    incremental_revenue: Decimal
    costs: Decimal


def campaigns_return(*, start: dt.datetime, end: dt.datetime) -> Return:
    """Every campaign's members assigned in ``[start, end)`` (sent or held out then): their
    incremental revenue against the holdout, where the campaign has one, and what they cost
    (messages, coupon discounts used, campaign points at the point value) in that time."""
    during = (start, end)
    extra = costs = ZERO
    campaign_ids = (
        Message.objects.filter(created_at__gte=start, created_at__lt=end)
        .values_list("campaign_id", flat=True)
        .distinct()
    )
    for campaign in Campaign.objects.filter(pk__in=campaign_ids).order_by("pk"):
        variants, holdout = _groups(
            campaign, dt.timedelta(days=conversion_window(campaign)), during
        )
        treated_n = sum(g.members for g in variants.values())
        treated_revenue = sum((g.revenue for g in variants.values()), ZERO)
        if holdout.members and treated_n:
            extra += incremental_revenue(
                treated_n, treated_revenue / treated_n, holdout.revenue / holdout.members
            )
        costs += sum(_costs(campaign, during), ZERO)
    return Return(incremental_revenue=extra, costs=costs)


def campaign_results(*, campaign: Campaign) -> Results:
    """Everything the campaign page, its charts and its exports show (a handful of queries)."""
    window_days = conversion_window(campaign)
    by_status: dict[str, int] = defaultdict(int)
    by_reason: dict[str, int] = defaultdict(int)
    by_channel: dict[str, int] = defaultdict(int)
    engaged = {"delivered": 0, "opened": 0, "clicked": 0, "unsubscribed": 0}
    for status, reason, channel, delivered, opened, clicked, unsub in Message.objects.filter(
        campaign=campaign
    ).values_list(
        "status", "reason", "channel", "delivered_at", "opened_at", "clicked_at", "unsubscribed_at"
    ):
        by_status[status] += 1
        if reason:
            by_reason[reason] += 1
        if status in (MessageStatus.SENT, MessageStatus.DELIVERED):
            by_channel[channel] += 1
        engaged["delivered"] += delivered is not None
        engaged["opened"] += opened is not None
        engaged["clicked"] += clicked is not None
        engaged["unsubscribed"] += unsub is not None
    variants, holdout = _groups(campaign, dt.timedelta(days=window_days))
    treated = Group(label="treated")
    for group in variants.values():
        treated.members += group.members
        treated.conversions += group.conversions
        treated.revenue += group.revenue
        treated.values.extend(group.values)
    per_variant = [
        VariantResult(
            group=group,
            conversion=conversion_uplift(
                group.members, group.conversions, holdout.members, holdout.conversions
            ),
            revenue=revenue_uplift(group.values, holdout.values),
        )
        for group in variants.values()
    ]
    extra = (
        incremental_revenue(
            treated.members,
            treated.revenue / treated.members,
            holdout.revenue / holdout.members,
        )
        if holdout.members and treated.members
        else ZERO
    )
    message_cost, coupon_cost, points_cost = _costs(campaign)
    costs = message_cost + coupon_cost + points_cost
    return Results(
        campaign=campaign,
        window_days=window_days,
        by_status=dict(by_status),
        by_reason=dict(by_reason),
        by_channel=dict(by_channel),
        reached=by_status.get(MessageStatus.SENT, 0) + by_status.get(MessageStatus.DELIVERED, 0),
        delivered=engaged["delivered"],
        opened=engaged["opened"],
        clicked=engaged["clicked"],
        unsubscribed=engaged["unsubscribed"],
        treated=treated,
        holdout=holdout,
        variants=per_variant,
        conversion=conversion_uplift(
            treated.members, treated.conversions, holdout.members, holdout.conversions
        ),
        revenue=revenue_uplift(treated.values, holdout.values),
        winner=ab_winner({g.label: (g.members, g.conversions) for g in variants.values()})
        if len(variants) > 1
        else None,
        incremental_revenue=extra,
        message_cost=message_cost,
        coupon_cost=coupon_cost,
        points_cost=points_cost,
        roi=roi(extra, costs) if holdout.members else None,
    )
