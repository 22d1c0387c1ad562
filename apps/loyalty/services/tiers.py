"""Tiers: an upgrade applies as soon as the member qualifies; a downgrade only at the review
date, after the grace period, and only below the tier's retention threshold (invariant 5)."""

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal

from django.db import IntegrityError, connection, transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.accounts.models import User
from apps.core import events
from apps.core.content import content_input, localized_fields
from apps.core.db import bulk_insert, bulk_update_fields, in_ids, is_postgres
from apps.core.exceptions import ValidationFailed
from apps.core.services import audit_record, model_snapshot
from apps.core.text import text_check
from apps.customers.models import Order

from ..enums import BonusKind, TierMetric, TxKind
from ..ledger import _add_months
from ..locks import lock_accounts
from ..models import LoyaltyAccount, PointsTransaction, Programme, Tier, TierHistory
from ..selectors import qualifying_value
from .bonuses import Bonus, BonusBatch, bonus_award
from .configuration import TIER_FIELDS, validate


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
    old = account.tier
    TierHistory.objects.create(
        account=account,
        from_tier=old,
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
    old_rank = old.rank if old else -1
    new_rank = to.rank if to else -1
    events.publish(
        "tier.changed",
        customer_id=account.customer_id,
        old_tier_id=old.pk if old else None,
        new_tier_id=to.pk if to else None,
        direction="up" if new_rank > old_rank else "down",
    )


def tier_evaluate(
    *,
    account: LoyaltyAccount,
    as_of: dt.datetime | None = None,
    tiers: Sequence[Tier] | None = None,
    known: dict[tuple[str, int], Decimal] | None = None,
) -> Tier | None:
    """Upgrade at once to the highest tier the member qualifies for. Never downgrades.
    The caller holds the account lock.

    Only tiers above the current one can change anything, so only their qualifying values are
    computed, from the highest rank down, stopping at the first tier that qualifies (one
    aggregate per metric and window at most, none for a member already at the top). ``tiers``:
    every tier by rank, when the caller holds them (``apps.loyalty.configuration``); ``known``:
    qualifying values the caller has already read as of ``as_of``, by (metric, window)."""
    now = as_of or timezone.now()
    tiers = list(tiers) if tiers is not None else list(Tier.objects.order_by("rank"))
    if not tiers:
        return account.tier
    current_rank = account.tier.rank if account.tier else -1
    cache: dict[tuple[str, int], Decimal] = dict(known or {})

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
            bonus_award(
                customer=account.customer,
                points=best.entry_gift_points,
                key=f"bonus:tier-gift:{account.pk}:{best.pk}",
                reason=_("Welcome gift for %(tier)s") % {"tier": best.name},
                at=now,
                detail={"bonus": BonusKind.TIER_GIFT, "tier": best.pk},
            )
    return account.tier


def qualifying_values(
    *, customer_ids: list[int], metric: str, window_months: int, as_of: dt.datetime
) -> dict[int, Decimal]:
    """``qualifying_value`` of many members at once, by customer id (one aggregate); a member
    with nothing in the window is absent (their value is 0)."""
    since = _add_months(as_of, -window_months)
    if metric == TierMetric.SPEND:
        rows = (
            Order.objects.filter(
                in_ids("customer_id", customer_ids), placed_at__gt=since, placed_at__lte=as_of
            )
            .order_by()
            .values("customer_id")
            .annotate(total=Sum("total"), refunded=Sum("refunded_amount"))
            .values_list("customer_id", "total", "refunded")
        )
        return {c: (t or Decimal(0)) - (r or Decimal(0)) for c, t, r in rows}
    rows = (
        PointsTransaction.objects.filter(
            in_ids("order__customer_id", customer_ids),
            kind__in=[TxKind.EARN, TxKind.PENDING, TxKind.REFUND],
            created_at__gt=since,
            created_at__lte=as_of,
        )
        .order_by()
        .values("order__customer_id")
        .annotate(p=Sum("points"), q=Sum("pending_points"))
        .values_list("order__customer_id", "p", "q")
    )
    return {c: Decimal((p or 0) + (q or 0)) for c, p, q in rows}


def _history_insert(rows: list[tuple], *, at: dt.datetime) -> None:
    """TierHistory rows (account, from tier, to tier, reason, qualifying value) at ``at``."""
    if not rows:
        return
    if not is_postgres():
        bulk_insert(
            TierHistory,
            [
                TierHistory(
                    account_id=a, from_tier_id=f, to_tier_id=t, reason=r, qualifying_value=v, at=at
                )
                for a, f, t, r, v in rows
            ],
        )
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO loyalty_tierhistory (account_id, from_tier_id, to_tier_id, reason, "
            "qualifying_value, at) SELECT *, %s FROM unnest(%s::bigint[], %s::bigint[], "
            "%s::bigint[], %s::varchar[], %s::numeric[])",
            [at, *(list(column) for column in zip(*rows, strict=True))],
        )


def tiers_evaluate_many(
    *,
    accounts: list[LoyaltyAccount],
    as_of: dt.datetime,
    bonuses: BonusBatch,
    tiers: Sequence[Tier] | None = None,
) -> int:
    """``tier_evaluate`` for many accounts at once (a bulk-earning chunk), with the same moves,
    history rows, ``tier.changed`` events and entry gifts, account by account in the given
    order: the qualifying values read with one aggregate per metric and window over all the
    members, the history rows written with one insert, the accounts' tiers with one update and
    the events with one outbox insert; the gifts go to ``bonuses`` (written when it flushes).
    The caller holds the locks. Returns the number of accounts that moved."""
    tiers = list(tiers) if tiers is not None else list(Tier.objects.order_by("rank"))
    if not tiers or not accounts:
        return 0
    by_pk = {t.pk: t for t in tiers}

    def rank_of(account: LoyaltyAccount) -> int:
        return by_pk[account.tier_id].rank if account.tier_id in by_pk else -1

    # Only members below the top tier can move (as ``tier_evaluate``, which reads nothing for
    # them).
    todo = [a for a in accounts if rank_of(a) < tiers[-1].rank]
    if not todo:
        return 0
    customer_ids = [a.customer_id for a in todo]
    values = {
        k: qualifying_values(
            customer_ids=customer_ids, metric=k[0], window_months=k[1], as_of=as_of
        )
        for k in dict.fromkeys((t.metric, t.window_months) for t in tiers)
    }

    def value_of(tier: Tier, account: LoyaltyAccount) -> Decimal:
        return values[(tier.metric, tier.window_months)].get(account.customer_id, Decimal(0))

    history, moved, changes = [], [], []
    # What a move into each tier writes, read once per tier (names are translated fields).
    reasons = {
        t.pk: (
            (_("Qualified for %(tier)s") % {"tier": t.name})
            if t.rank > 0
            else _("Joined the programme")
        )
        for t in tiers
    }
    gifts = {t.pk: _("Welcome gift for %(tier)s") % {"tier": t.name} for t in tiers}
    review = {
        t.pk: _add_months(timezone.localtime(as_of), t.window_months).date() if t.rank > 0 else None
        for t in tiers
    }
    for account in todo:
        current_rank = rank_of(account)
        best = next(
            (
                t
                for t in reversed(tiers)
                if t.rank > current_rank and value_of(t, account) >= t.threshold
            ),
            tiers[0],
        )
        if best.rank <= current_rank:
            continue
        old = by_pk.get(account.tier_id)
        history.append(
            (
                account.pk,
                old.pk if old else None,
                best.pk,
                reasons[best.pk],
                value_of(best, account),
            )
        )
        account.tier = best
        account.tier_since = as_of
        account.tier_review_at = review[best.pk]
        moved.append(account)
        changes.append(
            {
                "customer_id": account.customer_id,
                "old_tier_id": old.pk if old else None,
                "new_tier_id": best.pk,
                "direction": "up",
            }
        )
        if best.entry_gift_points:
            bonuses.add(
                Bonus(
                    customer_id=account.customer_id,
                    points=best.entry_gift_points,
                    key=f"bonus:tier-gift:{account.pk}:{best.pk}",
                    reason=gifts[best.pk],
                    at=as_of,
                    detail={"bonus": BonusKind.TIER_GIFT, "tier": best.pk},
                )
            )
    _history_insert(history, at=as_of)
    bulk_update_fields(
        LoyaltyAccount, moved, ["tier", "tier_since", "tier_review_at", "updated_at"]
    )
    events.publish_many("tier.changed", changes)
    return len(moved)


def tier_adopt(
    *, account: LoyaltyAccount, tier: Tier, review_at: dt.date | None, reason: str
) -> None:
    """Put the account in ``tier`` with the given review date (a merge: the survivor takes
    over the higher tier of the merged-away membership, which keeps its own review date -- the
    merge neither downgrades the person nor extends the tier). The caller holds the lock."""
    now = timezone.now()
    value = qualifying_value(account=account, tier=tier, as_of=now)
    _move(account, tier, reason=reason, value=value, now=now, programme=None)
    account.tier_review_at = review_at
    account.save(update_fields=["tier_review_at", "updated_at"])


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


# --- staff: a new tier -------------------------------------------------------------------------

# A new tier sets its code and rank once; everything else is what tier_update may change.
TIER_CREATE_FIELDS = ["slug", "rank", *TIER_FIELDS]
TIER_CONTENT_FIELDS = localized_fields(Tier, ["name", "benefits"])


def tier_create_check(
    *,
    slug: str,
    rank: int,
    metric: str,
    threshold: Decimal,
    retention_threshold: Decimal,
    tiers: list[Tier] | None = None,
) -> None:
    """Raise ValidationFailed (with ``field``) unless a tier with these values fits the ladder:
    a free code and rank, a keep-threshold not above the reach-threshold, and a threshold not
    below the tier ranked just under it nor above the one just over it when they qualify by the
    same metric (spend and points thresholds are not comparable, so they are not compared)."""
    tiers = list(Tier.objects.order_by("rank")) if tiers is None else tiers
    if any(t.slug == slug for t in tiers):
        raise ValidationFailed(_("A tier with this code already exists."), field="slug")
    if any(t.rank == rank for t in tiers):
        raise ValidationFailed(_("Another tier already has this rank."), field="rank")
    if retention_threshold > threshold:
        raise ValidationFailed(
            _("The threshold to keep a tier cannot exceed the one to reach it."),
            field="retention_threshold",
        )
    below = [t for t in tiers if t.rank < rank]
    above = [t for t in tiers if t.rank > rank]
    previous = below[-1] if below else None
    following = above[0] if above else None
    if previous is not None and previous.metric == metric and threshold < previous.threshold:
        raise ValidationFailed(
            _("The threshold must be at least that of %(tier)s (%(threshold)s).")
            % {"tier": previous.name, "threshold": previous.threshold},
            field="threshold",
        )
    if following is not None and following.metric == metric and threshold > following.threshold:
        raise ValidationFailed(
            _("The threshold cannot exceed that of %(tier)s (%(threshold)s).")
            % {"tier": following.name, "threshold": following.threshold},
            field="threshold",
        )


@transaction.atomic
def tier_create(
    *,
    actor: User,
    slug: str,
    rank: int,
    metric: str = TierMetric.SPEND,
    threshold: Decimal = Decimal(0),
    retention_threshold: Decimal = Decimal(0),
    window_months: int = 12,
    earn_multiplier: Decimal = Decimal(1),
    entry_gift_points: int = 0,
    color: str = "#6c757d",
    **content: str,
) -> Tier:
    """Add a tier to the ladder (see ``tier_create_check``); audited with every value.

    The tier rows are locked (a handful, in pk order) so two staff adding tiers at once cannot
    both take the same rank or slip past each other's threshold; the unique code and rank are
    the database backstop. Members move up into the new tier at their next evaluation (their
    next order); nobody moves down before their review date (invariant 5). ``content`` is the
    name and benefits, per language (``name_en``, ``benefits_zh_hans``, …) or in the active
    language (``name``)."""
    content = content_input(Tier, content)
    if unknown := set(content) - set(TIER_CONTENT_FIELDS):
        raise ValidationFailed(_("Unknown fields: %(f)s") % {"f": ", ".join(sorted(unknown))})
    benefits = localized_fields(Tier, ["benefits"])
    text_check(slug=slug, color=color, multiline=benefits, **content)
    tiers = list(Tier.objects.select_for_update().order_by("pk"))
    tiers.sort(key=lambda t: t.rank)
    tier_create_check(
        slug=slug,
        rank=rank,
        metric=metric,
        threshold=threshold,
        retention_threshold=retention_threshold,
        tiers=tiers,
    )
    tier = Tier(
        **content,
        slug=slug,
        rank=rank,
        metric=metric,
        threshold=threshold,
        retention_threshold=retention_threshold,
        window_months=window_months,
        earn_multiplier=earn_multiplier,
        entry_gift_points=entry_gift_points,
        color=color,
    )
    validate(tier)
    try:
        with transaction.atomic():
            tier.save()
    except IntegrityError:  # a concurrent insert took the code or rank first
        raise ValidationFailed(_("Another tier already has this code or rank.")) from None
    tier.refresh_from_db()  # the audit row records the stored values (5000.00, not 5000)
    audit_record(
        actor=actor,
        action="tier.create",
        target=tier,
        summary=tier.name,
        after=model_snapshot(tier, TIER_CREATE_FIELDS),
    )
    return tier
