"""Bulk earning: many orders at once (imports and history back-fills, ``orders_earn_bulk``),
chunked by customer, with the same rules, ledger rows and idempotency keys as ``order_earn``
(``earning``). ``on_orders_imported`` earns an import's orders in the import's transaction.

A chunk costs a fixed number of queries whatever its size: its accounts are locked in one
query, its orders (those not earned yet) and their lines read in two, its lots and chained
ledger rows written with one ``COPY`` each (``LedgerBatch``) and the accounts' counters with one
update; then the after-order work for all its members at once: tiers (``tiers_evaluate_many``),
referral rewards and badges (``on_orders_earned_many``), whose bonuses are written with one more
``COPY`` (``BonusBatch``). Only members who owe points from a refund go through the one-by-one
services (``debt_settle``, ``bonus_award``), which settle the debt.
"""

import datetime as dt
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Min
from django.utils import timezone

from apps.core import events
from apps.core.db import is_postgres
from apps.customers.models import Order, OrderLine

from .. import ledger
from ..enums import EarnRuleKind, LotStatus, TxKind
from ..ledger_batch import LedgerBatch, Lot, accounts_lock
from ..models import EarnRule, PointsTransaction, Programme, Tier
from ..rules import OrderFacts, compute_earn, spread_discount
from ..selectors import earn_rules_active
from .bonuses import BonusBatch, debt_settle
from .earning import earn_detail
from .referrals import on_orders_earned_many
from .tiers import tiers_evaluate_many


def orders_earn_bulk(
    *,
    order_ids,
    chunk: int = 500,
    publish_earned: bool = True,
    at_order_time: bool = True,
    as_of: dt.datetime | None = None,
) -> int:
    """Earn points for many orders at once (imports, seeding), chunked by customer (``chunk``
    members a transaction; see the module docstring). Orders that already earned are skipped
    (same idempotency keys as ``order_earn``). Tier upgrades are applied per account at the end
    of its chunk, and the ``order.earned`` hooks (referral rewards, badges) run once per
    customer (``publish_earned``; ``on_orders_earned_many``), as if ``order.earned`` were
    published for each customer's newest order. Accounts it creates start in the entry tier,
    like ``locks.account_ensure``. ``at_order_time`` (the default: imports and demo data
    back-fill history) dates the ledger rows at each order's time, so a points-metric tier
    counts them in the window they belong to; False dates them now. ``as_of`` (default now) is
    when the earning runs: orders still inside their return window then earn pending points,
    and tiers are evaluated as of then (back-filled history replays the programme's days in
    order, see ``apps.loyalty.demo``). Returns the number of orders that earned."""
    by_customer = _orders_by_customer(order_ids)
    if not by_customer:
        return 0
    rules, rule_tiers = earn_rules_active()
    ctx = _Context(Programme.get(), rules, rule_tiers, list(Tier.objects.order_by("rank")))
    customers = sorted(by_customer)
    earned = 0
    for start in range(0, len(customers), chunk):
        part = customers[start : start + chunk]
        earned += _earn_chunk(
            part,
            [oid for c in part for oid in by_customer[c]],
            ctx,
            publish_earned=publish_earned,
            at_order_time=at_order_time,
            now=as_of or timezone.now(),
        )
    return earned


class _Context:
    def __init__(self, programme: Programme, rules: list[EarnRule], rule_tiers, tiers) -> None:
        self.programme = programme
        self.rules = rules
        self.rule_tiers = rule_tiers
        self.tiers = tiers
        self.tiers_by_pk = {t.pk: t for t in tiers}
        self.rule_campaign = {r.pk: r.campaign_id for r in rules if r.campaign_id}
        self.needs_first = any(r.kind == EarnRuleKind.FIRST_PURCHASE for r in rules)
        self.window = dt.timedelta(days=programme.pending_days)
        self.rate = programme.points_per_currency_unit
        self._tz = timezone.get_current_timezone()
        self._expiry: dict[dt.date, dt.datetime | None] = {}

    def expiry_for(self, earned_at: dt.datetime) -> dt.datetime | None:
        """``ledger.expiry_for``, once per local day: the expiry depends on the day only."""
        day = earned_at.astimezone(self._tz).date()
        if day not in self._expiry:
            self._expiry[day] = ledger.expiry_for(earned_at=earned_at, programme=self.programme)
        return self._expiry[day]


def _orders_by_customer(order_ids) -> dict[int, list[int]]:
    """{customer id: ids of their orders among ``order_ids``} (orders without a member earn
    nothing)."""
    ids = sorted(set(order_ids))
    out: dict[int, list[int]] = {}
    if not ids:
        return out
    with connection.cursor() as cursor:
        for start in range(0, len(ids), 100_000):
            part = ids[start : start + 100_000]
            if is_postgres():
                cursor.execute(
                    "SELECT id, customer_id FROM customers_order "
                    "WHERE id = ANY(%s) AND customer_id IS NOT NULL",
                    [part],
                )
            else:
                marks = ", ".join(["%s"] * len(part))
                cursor.execute(
                    "SELECT id, customer_id FROM customers_order "  # noqa: S608 (only %s placeholders)  # nosec B608
                    f"WHERE id IN ({marks}) AND customer_id IS NOT NULL",
                    part,
                )
            for order_id, customer_id in cursor.fetchall():
                out.setdefault(customer_id, []).append(order_id)
    return out


def _ids_param(ids: list[int]) -> tuple[str, list]:
    """``= ANY(%s)`` with one array parameter (PostgreSQL)."""
    return "= ANY(%s)", [ids]


def _orders_to_earn(order_ids: list[int]) -> list[tuple]:
    """(id, customer_id, store_id, channel, total, placed_at) of the orders that have not
    earned yet, by customer, time and id."""
    if not is_postgres():  # through the ORM, which converts SQLite's values
        rows = list(
            Order.objects.filter(pk__in=order_ids)
            .order_by("customer_id", "placed_at", "id")
            .values_list("id", "customer_id", "store_id", "channel", "total", "placed_at")
        )
        done = set(
            PointsTransaction.objects.filter(
                idempotency_key__in=[f"order:{r[0]}:earn" for r in rows]
            ).values_list("idempotency_key", flat=True)
        )
        return [r for r in rows if f"order:{r[0]}:earn" not in done]
    match, params = _ids_param(order_ids)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT o.id, o.customer_id, o.store_id, o.channel, o.total, o.placed_at "  # noqa: S608 (only %s placeholders)  # nosec B608
            f"FROM customers_order o WHERE o.id {match} AND NOT EXISTS ("
            "SELECT 1 FROM loyalty_pointstransaction t "
            "WHERE t.idempotency_key = 'order:' || o.id || ':earn') "
            "ORDER BY o.customer_id, o.placed_at, o.id",
            params,
        )
        return cursor.fetchall()


def _first_orders(customer_ids: list[int]) -> dict[int, dt.datetime]:
    if not is_postgres():
        return dict(
            Order.objects.filter(customer_id__in=customer_ids)
            .order_by()
            .values("customer_id")
            .annotate(first=Min("placed_at"))
            .values_list("customer_id", "first")
        )
    match, params = _ids_param(customer_ids)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT customer_id, min(placed_at) FROM customers_order "  # noqa: S608 (only %s placeholders)  # nosec B608
            f"WHERE customer_id {match} GROUP BY customer_id",
            params,
        )
        return dict(cursor.fetchall())


def _order_lines(order_ids: list[int]) -> dict[int, list[tuple[str, str, Decimal]]]:
    lines: dict[int, list[tuple[str, str, Decimal]]] = {}
    if is_postgres():
        match, params = _ids_param(order_ids)
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT order_id, sku, category, quantity, unit_price "  # noqa: S608 (only %s placeholders)  # nosec B608
                f"FROM customers_orderline WHERE order_id {match} ORDER BY id",
                params,
            )
            rows = cursor.fetchall()
    else:
        rows = OrderLine.objects.filter(order_id__in=order_ids).values_list(
            "order_id", "sku", "category", "quantity", "unit_price"
        )
    for order_id, sku, category, quantity, unit_price in rows:
        lines.setdefault(order_id, []).append((sku, category, quantity * unit_price))
    return lines


@transaction.atomic
def _earn_chunk(
    customer_ids: list[int],
    order_ids: list[int],
    ctx: _Context,
    *,
    publish_earned: bool,
    at_order_time: bool,
    now: dt.datetime,
) -> int:
    accounts = accounts_lock(customer_ids=customer_ids, joined_at=now)
    orders = _orders_to_earn(order_ids)
    if not orders:
        return 0
    firsts = _first_orders(customer_ids) if ctx.needs_first else {}
    lines = _order_lines([o[0] for o in orders])
    programme = ctx.programme
    rows = LedgerBatch()
    newest: dict[int, int] = {}  # customer id -> newest order that earned
    for order_id, customer_id, store_id, channel, total, placed_at in orders:
        account = accounts[customer_id]
        tier = ctx.tiers_by_pk.get(account.tier_id)
        facts = OrderFacts(
            total=total,
            placed_at=placed_at,
            store_id=store_id,
            channel=channel,
            lines=spread_discount(lines.get(order_id, []), total),
            tier_id=account.tier_id,
            tier_multiplier=tier.earn_multiplier if tier else Decimal(1),
            first_purchase=firsts.get(customer_id) == placed_at,
            customer_id=customer_id,
        )
        result = compute_earn(
            facts=facts, rate=ctx.rate, rules=ctx.rules, rule_tiers=ctx.rule_tiers
        )
        if result.points <= 0:
            continue
        available_at = placed_at + ctx.window
        pending = available_at > now
        rows.append(
            account=account,
            kind=TxKind.PENDING if pending else TxKind.EARN,
            key=f"order:{order_id}:earn",
            points=0 if pending else result.points,
            pending_points=result.points if pending else 0,
            reason=", ".join(f"{n} {p}" for n, p in result.parts),
            detail=earn_detail(result=result, tier=tier),
            at=placed_at if at_order_time else timezone.now(),
            order_id=order_id,
            campaign_id=next(
                (ctx.rule_campaign[r] for r in result.rule_ids if r in ctx.rule_campaign), None
            ),
            lot=Lot(
                points=result.points,
                status=LotStatus.PENDING if pending else LotStatus.AVAILABLE,
                earned_at=placed_at,
                available_at=available_at,
                expires_at=ctx.expiry_for(placed_at),
                order_id=order_id,
            ),
        )
        newest[customer_id] = order_id
    earned = len(rows)
    rows.flush()
    touched = [accounts[c] for c in newest]
    for account in touched:
        if account.debt:  # owed from a refund: settled one by one, from the new points
            debt_settle(
                account=account, key=f"settle:{account.pk}:{account.last_hash[:16]}", at=now
            )
    bonuses = BonusBatch(accounts=accounts, rows=rows, programme=programme)
    tiers_evaluate_many(accounts=touched, as_of=now, bonuses=bonuses, tiers=ctx.tiers)
    if publish_earned:
        on_orders_earned_many(customer_ids=list(newest), bonuses=bonuses)
    bonuses.flush()
    return earned


def on_orders_imported(event: events.Event) -> None:
    """``orders.imported``, in the import's transaction: the imported orders earn their points
    (those that earned already are skipped, so a re-run of the same file earns nothing twice)."""
    orders_earn_bulk(order_ids=event.payload["order_ids"])
