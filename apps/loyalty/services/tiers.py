"""Tiers: an upgrade applies as soon as the member qualifies; a downgrade only at the review
date, after the grace period, and only below the tier's retention threshold (invariant 5)."""

import datetime as dt
from decimal import Decimal

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.core.services import audit_record
from apps.customers.models import Order

from ..enums import TierMetric, TxKind
from ..ledger import _add_months
from ..locks import lock_accounts
from ..models import LoyaltyAccount, PointsTransaction, Programme, Tier, TierHistory


def qualifying_value(
    *, account: LoyaltyAccount, tier: Tier, as_of: dt.datetime | None = None
) -> Decimal:
    """Spend (net of refunds) or points earned over the tier's rolling window."""
    as_of = as_of or timezone.now()
    since = _add_months(as_of, -tier.window_months)
    if tier.metric == TierMetric.SPEND:
        agg = Order.objects.filter(
            customer_id=account.customer_id, placed_at__gt=since, placed_at__lte=as_of
        ).aggregate(total=Sum("total"), refunded=Sum("refunded_amount"))
        return (agg["total"] or Decimal(0)) - (agg["refunded"] or Decimal(0))
    # Points earned from purchases (net of clawbacks); bonuses and gifts do not qualify.
    points = PointsTransaction.objects.filter(
        kind__in=[TxKind.EARN, TxKind.PENDING, TxKind.REFUND],
        order__isnull=False,
        created_at__gt=since,
        created_at__lte=as_of,
        account=account,
    ).aggregate(p=Sum("points"), q=Sum("pending_points"))
    return Decimal((points["p"] or 0) + (points["q"] or 0))


def _values(account: LoyaltyAccount, tiers: list[Tier], as_of) -> dict[int, Decimal]:
    cache: dict[tuple[str, int], Decimal] = {}
    out = {}
    for tier in tiers:
        k = (tier.metric, tier.window_months)
        if k not in cache:
            cache[k] = qualifying_value(account=account, tier=tier, as_of=as_of)
        out[tier.pk] = cache[k]
    return out


def _move(
    account: LoyaltyAccount,
    to: Tier | None,
    *,
    reason: str,
    value: Decimal,
    now,
    programme: Programme | None,
) -> None:
    TierHistory.objects.create(
        account=account,
        from_tier=account.tier,
        to_tier=to,
        reason=reason,
        qualifying_value=value,
        at=now,
    )
    account.tier = to
    account.tier_since = now
    account.tier_review_at = (
        _add_months(timezone.localtime(now), to.window_months).date()
        if to and to.rank > 0
        else None
    )
    account.save(update_fields=["tier", "tier_since", "tier_review_at", "updated_at"])


def tier_evaluate(*, account: LoyaltyAccount, as_of: dt.datetime | None = None) -> Tier | None:
    """Upgrade at once to the highest tier the member qualifies for. Never downgrades.
    The caller holds the account lock.

    Only tiers above the current one can change anything, so only their qualifying values are
    computed, from the highest rank down, stopping at the first tier that qualifies (one
    aggregate per metric and window at most, none for a member already at the top)."""
    now = as_of or timezone.now()
    tiers = list(Tier.objects.order_by("rank"))
    if not tiers:
        return account.tier
    current_rank = account.tier.rank if account.tier else -1
    cache: dict[tuple[str, int], Decimal] = {}

    def value_of(tier: Tier) -> Decimal:
        k = (tier.metric, tier.window_months)
        if k not in cache:
            cache[k] = qualifying_value(account=account, tier=tier, as_of=now)
        return cache[k]

    best = next(
        (t for t in reversed(tiers) if t.rank > current_rank and value_of(t) >= t.threshold),
        tiers[0],
    )
    if best.rank > current_rank:
        reason = (
            (_("Qualified for %(tier)s") % {"tier": best.name})
            if best.rank > 0
            else _("Joined the programme")
        )
        _move(account, best, reason=reason, value=value_of(best), now=now, programme=None)
        if best.entry_gift_points:
            from .earning import bonus_award

            bonus_award(
                customer=account.customer,
                points=best.entry_gift_points,
                key=f"bonus:tier-gift:{account.pk}:{best.pk}",
                reason=_("Welcome gift for %(tier)s") % {"tier": best.name},
            )
    return account.tier


def tier_review_due(*, as_of: dt.date | None = None, chunk: int = 500) -> int:
    """Review tiers whose review date plus the grace period has passed. A member keeps the tier
    while the qualifying value stays at or above its retention threshold; otherwise they move
    down to the highest tier they still qualify for. Returns the number of accounts reviewed."""
    today = as_of or timezone.localdate()
    programme = Programme.get()
    cutoff = today - dt.timedelta(days=programme.tier_grace_days)
    ids = list(
        LoyaltyAccount.objects.filter(tier_review_at__lte=cutoff)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    tiers = list(Tier.objects.order_by("rank"))
    reviewed = 0
    for start in range(0, len(ids), chunk):
        with transaction.atomic():
            for account in lock_accounts(account_ids=ids[start : start + chunk]).values():
                if account.tier_review_at is None or account.tier_review_at > cutoff:
                    continue  # reviewed by a concurrent run
                _review_one(account, tiers, programme)
                reviewed += 1
    return reviewed


def _review_one(account: LoyaltyAccount, tiers: list[Tier], programme: Programme) -> None:
    now = timezone.now()
    current = account.tier
    values = _values(account, tiers, now)
    if current is None:
        return
    if values[current.pk] >= current.retention_threshold:
        account.tier_review_at = _add_months(timezone.localtime(now), current.window_months).date()
        account.save(update_fields=["tier_review_at", "updated_at"])
        TierHistory.objects.create(
            account=account,
            from_tier=current,
            to_tier=current,
            at=now,
            reason=_("Kept %(tier)s at review") % {"tier": current.name},
            qualifying_value=values[current.pk],
        )
        return
    target = tiers[0]
    for tier in tiers:
        if tier.rank < current.rank and values[tier.pk] >= tier.threshold:
            target = tier
    _move(
        account,
        target,
        reason=_("Below the retention threshold of %(tier)s at review") % {"tier": current.name},
        value=values[current.pk],
        now=now,
        programme=programme,
    )
    audit_record(
        actor=None,
        action="tier.downgrade",
        target=account,
        summary=f"{current.slug}->{target.slug}",
    )
