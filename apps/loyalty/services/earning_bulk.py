"""Bulk earning: many orders at once (imports and history back-fills, ``orders_earn_bulk``),
chunked by customer, with the same rules, ledger rows and idempotency keys as ``order_earn``
(``earning``). ``on_orders_imported`` earns an import's orders in the import's transaction.
"""

import datetime as dt
from decimal import Decimal

from django.db import transaction
from django.db.models import Min
from django.utils import timezone

from apps.core import events
from apps.core.db import bulk_insert, bulk_update_fields
from apps.customers.models import Order, OrderLine

from .. import ledger
from ..enums import LotStatus, TxKind
from ..locks import entry_tier, lock_accounts
from ..models import LoyaltyAccount, PointsLot, PointsTransaction, Programme, Tier
from ..rules import OrderFacts, compute_earn, spread_discount
from ..selectors import earn_rules_active
from .bonuses import debt_settle
from .earning import earn_detail
from .tiers import tier_evaluate


def orders_earn_bulk(
    *,
    order_ids,
    chunk: int = 500,
    publish_earned: bool = True,
    at_order_time: bool = True,
    as_of: dt.datetime | None = None,
) -> int:
    """Earn points for many orders at once (imports, seeding), chunked by customer: one chunk
    locks its accounts, reads its orders and lines in a few queries, computes points with the
    same rule engine and writes lots and chained ledger rows with bulk inserts. Orders that
    already earned are skipped (same idempotency keys as ``order_earn``). Tier upgrades are
    applied per account at the end of its chunk, and ``order.earned`` is published once per
    customer with their newest order (referral rewards, badges). Accounts it creates start in the
    entry tier, like ``locks.account_ensure``. ``at_order_time`` (the default: imports and demo
    data back-fill history) dates the ledger rows at each order's time, so a points-metric tier
    counts them in the window they belong to; False dates them now. ``as_of`` (default now) is
    when the earning runs: orders still inside their return window then earn pending points,
    and tiers are evaluated as of then (back-filled history replays the programme's days in
    order, see ``apps.loyalty.demo``). Returns the number of orders that earned."""
    wanted = set(order_ids)
    if not wanted:
        return 0
    programme = Programme.get()
    rules, rule_tiers = earn_rules_active()
    customer_ids = sorted(
        set(
            Order.objects.filter(pk__in=wanted, customer__isnull=False).values_list(
                "customer_id", flat=True
            )
        )
        if len(wanted) <= 50_000
        else {
            cid
            for oid, cid in Order.objects.filter(customer__isnull=False)
            .values_list("pk", "customer_id")
            .iterator()
            if oid in wanted
        }
    )
    earned = 0
    for start in range(0, len(customer_ids), chunk):
        earned += _earn_chunk(
            customer_ids[start : start + chunk],
            wanted,
            programme,
            rules,
            rule_tiers,
            publish_earned,
            at_order_time,
            as_of or timezone.now(),
        )
    return earned


@transaction.atomic
def _earn_chunk(
    customer_ids, wanted, programme, rules, rule_tiers, publish_earned, at_order_time, now
) -> int:
    # New accounts start in the entry tier, as ``account_ensure`` creates them.
    entry = entry_tier()
    joined = now if entry else None
    LoyaltyAccount.objects.bulk_create(
        [LoyaltyAccount(customer_id=c, tier=entry, tier_since=joined) for c in customer_ids],
        ignore_conflicts=True,
    )
    ids = list(
        LoyaltyAccount.objects.filter(customer_id__in=customer_ids).values_list("pk", flat=True)
    )
    accounts = {a.customer_id: a for a in lock_accounts(account_ids=ids).values()}
    tiers = {t.pk: t for t in Tier.objects.all()}
    orders = [
        o
        for o in Order.objects.filter(customer_id__in=customer_ids).order_by(
            "customer_id", "placed_at", "id"
        )
        if o.pk in wanted
    ]
    done = set(
        PointsTransaction.objects.filter(
            idempotency_key__in=[f"order:{o.pk}:earn" for o in orders]
        ).values_list("idempotency_key", flat=True)
    )
    orders = [o for o in orders if f"order:{o.pk}:earn" not in done]
    if not orders:
        return 0
    firsts = dict(
        Order.objects.filter(customer_id__in=customer_ids)
        .values("customer_id")
        .annotate(first=Min("placed_at"))
        .values_list("customer_id", "first")
    )
    lines: dict[int, list] = {}
    for ln in OrderLine.objects.filter(order_id__in=[o.pk for o in orders]).only(
        "order_id", "sku", "category", "quantity", "unit_price"
    ):
        lines.setdefault(ln.order_id, []).append((ln.sku, ln.category, ln.quantity * ln.unit_price))
    planned = []
    rule_campaign = {r.pk: r.campaign_id for r in rules if r.campaign_id}
    campaigns: dict[int, int | None] = {}
    for order in orders:
        account = accounts[order.customer_id]
        tier = tiers.get(account.tier_id)
        facts = OrderFacts(
            total=order.total,
            placed_at=order.placed_at,
            store_id=order.store_id,
            channel=order.channel,
            lines=spread_discount(lines.get(order.pk, []), order.total),
            tier_id=account.tier_id,
            tier_multiplier=tier.earn_multiplier if tier else Decimal(1),
            first_purchase=firsts.get(order.customer_id) == order.placed_at,
            customer_id=order.customer_id,
        )
        result = compute_earn(
            facts=facts, rate=programme.points_per_currency_unit, rules=rules, rule_tiers=rule_tiers
        )
        if result.points <= 0:
            continue
        available_at = order.placed_at + dt.timedelta(days=programme.pending_days)
        lot = PointsLot(
            account=account,
            points=result.points,
            remaining=result.points,
            status=LotStatus.PENDING if available_at > now else LotStatus.AVAILABLE,
            earned_at=order.placed_at,
            available_at=available_at,
            expires_at=ledger.expiry_for(earned_at=order.placed_at, programme=programme),
            order=order,
        )
        reason = ", ".join(f"{n} {p}" for n, p in result.parts)
        planned.append((order, account, lot, reason, earn_detail(result=result, tier=tier)))
        campaigns[order.pk] = next(
            (rule_campaign[r] for r in result.rule_ids if r in rule_campaign), None
        )
    bulk_insert(PointsLot, [p[2] for p in planned], set_pks=True)
    txs = []
    for order, account, lot, reason, detail in planned:
        pending = lot.status == LotStatus.PENDING
        txs.append(
            ledger.build(
                account=account,
                kind=TxKind.PENDING if pending else TxKind.EARN,
                key=f"order:{order.pk}:earn",
                points=0 if pending else lot.points,
                pending_points=lot.points if pending else 0,
                reason=reason,
                detail=detail,
                order=order,
                lot=lot,
                campaign_id=campaigns.get(order.pk),
                at=order.placed_at if at_order_time else None,
            )
        )
    bulk_insert(PointsTransaction, txs)
    touched = {a.pk: a for _, a, _, _, _ in planned}
    bulk_update_fields(LoyaltyAccount, list(touched.values()), ledger.ACCOUNT_COUNTERS)
    for account in touched.values():
        if account.debt:
            debt_settle(
                account=account, key=f"settle:{account.pk}:{account.last_hash[:16]}", at=now
            )
        tier_evaluate(account=account, as_of=now)
    if publish_earned:
        newest = {order.customer_id: order for order, *_ in planned}
        for order in newest.values():
            events.publish("order.earned", order_id=order.pk, customer_id=order.customer_id)
    return len(planned)


def on_orders_imported(event: events.Event) -> None:
    """``orders.imported``, in the import's transaction: the imported orders earn their points
    (those that earned already are skipped, so a re-run of the same file earns nothing twice)."""
    orders_earn_bulk(order_ids=event.payload["order_ids"])
