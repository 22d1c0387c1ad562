"""Earning: orders earn through the rules, once per order, one by one (the API, through
``order_ingest``) or in bulk (imports and history back-fills, through
``earning_bulk.orders_earn_bulk``).

Exactly once (invariant 2): the ledger row of an order has the unique key ``order:<id>:earn``;
the account row lock serialises concurrent attempts and the unique key is the backstop. After an
order earns, ``order.earned`` is published in the same transaction: referral rewards and badges
subscribe to it (``LoyaltyConfig.ready``).
"""

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

from apps.core import events
from apps.core.db import stand_ins_replaced
from apps.customers.enums import OrderChannel
from apps.customers.models import Customer, Order, Store
from apps.customers.services import order_record

from .. import ledger
from ..configuration import Configuration, configuration, configuration_kept, version_subquery
from ..enums import EarnEvent, EarnRuleKind, LotStatus, TierMetric, TxKind
from ..ledger import _add_months
from ..locks import lock_account
from ..models import EarnRule, LoyaltyAccount, PointsTransaction, Programme, Tier
from ..rules import (
    EarnResult,
    Miss,
    OrderFacts,
    compute_earn,
    rule_explain,
    spread_discount,
)
from ..selectors import earn_rules_active, qualifying_subquery
from .bonuses import debt_settle
from .tiers import tier_evaluate


@dataclass(frozen=True)
class EarnOutcome:
    points_earned: int
    points_pending: int
    balance: int
    tier: Tier | None


def _outcome(account: LoyaltyAccount, tx: PointsTransaction | None) -> EarnOutcome:
    return EarnOutcome(
        points_earned=tx.points if tx else 0,
        points_pending=tx.pending_points if tx else 0,
        balance=account.balance,
        tier=account.tier,
    )


LineAmounts = list[tuple[str, str, Decimal]]


def line_amounts(lines) -> LineAmounts:
    """(sku, category, quantity × unit price) of each line, as the rules read them: from the
    order's line rows, or from the dicts it was recorded with (rounded as the columns store
    them), so a new order's facts need no query for lines the caller holds."""
    amounts = []
    for ln in lines:
        if isinstance(ln, dict):
            quantity = Decimal(ln.get("quantity", 1)).quantize(Decimal("0.001"))
            price = Decimal(ln["unit_price"]).quantize(Decimal("0.01"))
            amounts.append((ln["sku"], ln.get("category", ""), quantity * price))
        else:
            amounts.append((ln.sku, ln.category, ln.quantity * ln.unit_price))
    return amounts


def _order_facts(
    order: Order,
    account: LoyaltyAccount,
    *,
    needs_first_purchase: bool = True,
    lines: LineAmounts | None = None,
    ordered_before: bool | None = None,
) -> OrderFacts:
    if lines is None:
        lines = line_amounts(order.lines.all())
    # Only first-purchase rules (and registered conditions) read this fact: skip the query
    # when nothing will look at it.
    if not needs_first_purchase:
        first = False
    elif ordered_before is not None:
        first = not ordered_before
    else:
        first = not Order.objects.filter(
            customer_id=order.customer_id, placed_at__lt=order.placed_at
        ).exists()
    return OrderFacts(
        total=order.total,
        placed_at=order.placed_at,
        store_id=order.store_id,
        channel=order.channel,
        lines=spread_discount(lines, order.total),
        tier_id=account.tier_id,
        tier_multiplier=account.tier.earn_multiplier if account.tier else Decimal(1),
        first_purchase=first,
        customer_id=order.customer_id,
    )


def earn_detail(*, result: EarnResult, tier: Tier | None) -> dict:
    """What an order's ledger row records for its description: the member's tier and its earn
    multiplier at the time (when it multiplied anything) and the rules that applied."""
    detail: dict = {}
    if tier is not None and tier.earn_multiplier != 1:
        detail["tier"] = tier.pk
        detail["multiplier"] = f"{tier.earn_multiplier.normalize():f}"
    if result.rule_ids:
        detail["rules"] = list(result.rule_ids)
    return detail


def rules_campaign(rule_ids, rules) -> int | None:
    """The campaign whose points multiplier applied to an order, if any (its ledger row carries
    it): the first of ``rules`` (by pk) among ``rule_ids`` that belongs to a campaign."""
    wanted = set(rule_ids)
    applied = sorted((r for r in rules if r.pk in wanted and r.campaign_id), key=lambda r: r.pk)
    return applied[0].campaign_id if applied else None


def _needs_first_purchase(rules) -> bool:
    # Only first-purchase rules read this fact (conditions do not: ``apps.loyalty.rules``).
    return any(r.kind == EarnRuleKind.FIRST_PURCHASE for r in rules)


def earn_preview(
    *,
    order: Order,
    account: LoyaltyAccount,
    config: Configuration | None = None,
    lines: LineAmounts | None = None,
    ordered_before: bool | None = None,
):
    """The points ``order`` earns for ``account`` under ``config`` (default: the configuration
    now), from ``lines`` and ``ordered_before`` when the caller holds them."""
    config = config or configuration()
    rules = config.rules
    return compute_earn(
        facts=_order_facts(
            order,
            account,
            needs_first_purchase=_needs_first_purchase(rules),
            lines=lines,
            ordered_before=ordered_before,
        ),
        rate=config.programme.points_per_currency_unit,
        rules=list(rules),
        rule_tiers=config.rule_tiers,
    )


@dataclass(frozen=True)
class RuleTrial:
    """The earn-rule preview: points with the rules as they are (``current``), with the draft
    rule (``result``, None without a draft), and why the draft adds nothing (``misses``, empty
    when it applies). Miss params name things for reading: ``tiers`` (names) for ``tier``,
    ``store`` (name) for ``store``, ``channel`` (label) for ``channel``."""

    current: EarnResult
    result: EarnResult | None
    misses: list[Miss]


def _named(misses: list[Miss], draft: EarnRule) -> list[Miss]:
    out = []
    for miss in misses:
        params = dict(miss.params)
        if miss.code == "tier":
            names = Tier.objects.filter(pk__in=params.pop("tier_ids")).order_by("rank")
            params["tiers"] = [t.name for t in names]
        elif miss.code == "store":
            store = draft.store if draft.store_id == params["store_id"] else None
            store = store or Store.objects.filter(pk=params["store_id"]).first()
            params["store"] = store.name if store else str(params["store_id"])
        elif miss.code == "channel":
            params["channel"] = str(dict(OrderChannel.choices).get(params["channel"], ""))
        elif miss.code == "event_only":
            params["event"] = str(dict(EarnEvent.choices).get(params["event"], params["event"]))
        out.append(Miss(miss.code, params))
    return out


def earn_rule_trial(
    *, facts: OrderFacts, draft: EarnRule | None = None, draft_tier_ids=()
) -> RuleTrial:
    """What the active rules earn for ``facts`` now, and (with ``draft``, an unsaved rule that
    is new or replaces the active rule of its pk, limited to ``draft_tier_ids``) what they would
    earn with it, and why the draft adds nothing when it does not. Writes nothing."""
    rules, rule_tiers = earn_rules_active()
    rate = Programme.get().points_per_currency_unit
    current = compute_earn(facts=facts, rate=rate, rules=rules, rule_tiers=rule_tiers)
    if draft is None:
        return RuleTrial(current=current, result=None, misses=[])
    others = [r for r in rules if r.pk != draft.pk]
    tiers = {**rule_tiers, draft.pk: set(draft_tier_ids)}
    with_draft = [*others, draft]
    result = compute_earn(facts=facts, rate=rate, rules=with_draft, rule_tiers=tiers)
    misses = rule_explain(draft, facts=facts, rules=with_draft, rule_tiers=tiers)
    return RuleTrial(current=current, result=result, misses=_named(misses, draft))


@dataclass(frozen=True)
class _Locked:
    """An order's account, locked, with what its earning reads about the member, each read in
    the lock's query when the process's configuration said it would be needed: whether the
    member ordered before (first-purchase rules) and the qualifying values of the tiers by
    (metric, window) as of ``now``, before this order's points (``tier_evaluate``)."""

    account: LoyaltyAccount
    config: Configuration
    ordered_before: bool | None
    qualifying: dict[tuple[str, int], Decimal]


# Stand-ins for an order's values while its lock query is compiled (``_lock_sql``): nothing
# real ever equals them, so each is found in the compiled parameters and replaced by the real
# value for every order of that shape.
_CUSTOMER = -7_654_321_987
_PLACED_AT = dt.datetime(1901, 2, 3, 4, 5, 6, 789012, tzinfo=dt.UTC)
_NOW = dt.datetime(1902, 3, 4, 5, 6, 7, 890123, tzinfo=dt.UTC)
_lock_statements: dict[tuple, tuple[str, list, list[str]]] = {}


def _lock_query(customer_id, placed_at, now, *, version, first: bool, windows) -> QuerySet:
    facts: dict = {"configuration_version": version}
    if first:
        facts["ordered_before"] = Exists(
            Order.objects.filter(customer_id=OuterRef("customer_id"), placed_at__lt=placed_at)
        )
    for metric, window in windows:
        facts[f"q_{metric}_{window}"] = qualifying_subquery(
            metric=metric, window_months=window, as_of=now
        )
    return (
        LoyaltyAccount.objects.select_for_update(of=("self",))
        .filter(customer_id=customer_id)
        .annotate(**facts)
        .order_by()
    )


def _lock_sql(shape: tuple, order: Order, now: dt.datetime) -> tuple[str, list, list[str]]:
    """The lock query of an order of this shape (whether first-purchase rules are active, the
    tiers' metrics and windows) compiled once per process: Django's compilation of the
    annotated query costs more than running it. Returns the SQL, the parameters for ``order``
    and ``now``, and the annotation names."""
    if shape not in _lock_statements:
        _first, windows = shape
        query = _lock_query(
            _CUSTOMER, _PLACED_AT, _NOW, version=version_subquery(), first=_first, windows=windows
        )
        sql, params = query.query.sql_with_params()
        _lock_statements[shape] = (sql, list(params), list(query.query.annotations))
    sql, params, names = _lock_statements[shape]
    stand_ins = {_CUSTOMER: order.customer_id, _PLACED_AT: order.placed_at, _NOW: now}
    for _metric, window in shape[1]:
        stand_ins[_add_months(_NOW, -window)] = _add_months(now, -window)
    return sql, stand_ins_replaced(params, stand_ins), names


def _lock_for_order(order: Order, now: dt.datetime) -> _Locked:
    """``lock_account`` in one query when the account exists (the usual case for an order),
    with the configuration version and the order's facts read in the same query."""
    kept = configuration_kept()
    if version_subquery() is None or kept is None:
        account = (
            LoyaltyAccount.objects.select_for_update(of=("self",))
            .select_related("tier")
            .filter(customer_id=order.customer_id)
            .first()
        )
        if account is None:
            account = lock_account(customer_id=order.customer_id)
        return _Locked(account, configuration(), None, {})
    shape = (
        _needs_first_purchase(kept.rules),
        tuple(sorted({(t.metric, t.window_months) for t in kept.tiers})),
    )
    sql, params, names = _lock_sql(shape, order, now)
    rows = list(LoyaltyAccount.objects.raw(sql, params))
    if not rows:
        return _Locked(lock_account(customer_id=order.customer_id), configuration(), None, {})
    account = rows[0]
    config = configuration(version=account.configuration_version)
    if config is not kept:  # read for another configuration: not to be trusted
        account.tier = config.tiers_by_pk.get(account.tier_id) if account.tier_id else None
        return _Locked(account, config, None, {})
    account.tier = config.tiers_by_pk.get(account.tier_id) if account.tier_id else None
    qualifying = {}
    for name in names:
        if name.startswith("q_"):
            _q, metric, window = name.split("_")
            qualifying[metric, int(window)] = Decimal(getattr(account, name) or 0)
    return _Locked(account, config, getattr(account, "ordered_before", None), qualifying)


@transaction.atomic
def order_earn(*, order: Order) -> EarnOutcome:
    """Award the order's points once. Points are pending through the return window, then
    mature (``points_mature_due``). Tier upgrades apply at once."""
    return _order_earn(order=order, new=False)[0]


def _order_earn(
    *, order: Order, new: bool, lines: LineAmounts | None = None
) -> tuple[EarnOutcome, Configuration | None]:
    """``order_earn`` for a caller already inside a transaction (no savepoint of its own).
    ``new`` says the caller has just created the order row in this transaction, so no ledger
    row can be keyed to it yet and the idempotency lookup is skipped; ``lines`` are its lines
    when the caller holds them. The outcome, and the configuration it earned under."""
    if order.customer_id is None:
        return EarnOutcome(0, 0, 0, None), None
    now = timezone.now()
    locked = _lock_for_order(order, now)
    account, config = locked.account, locked.config
    key = f"order:{order.pk}:earn"
    if not new and (done := ledger.tx_exists(key)) is not None:
        return _outcome(account, done), config
    programme = config.programme
    result = earn_preview(
        order=order,
        account=account,
        config=config,
        lines=lines,
        ordered_before=locked.ordered_before,
    )
    tx = None
    if result.points > 0:
        lot = ledger.lot_new(
            account=account,
            points=result.points,
            earned_at=order.placed_at,
            available_at=order.placed_at + dt.timedelta(days=programme.pending_days),
            programme=programme,
            order=order,
        )
        pending = lot.status == LotStatus.PENDING
        tx = ledger.lot_append(
            account=account,
            lot=lot,
            kind=TxKind.PENDING if pending else TxKind.EARN,
            key=key,
            points=0 if pending else result.points,
            pending_points=result.points if pending else 0,
            reason=", ".join(f"{name} {pts}" for name, pts in result.parts),
            detail=earn_detail(result=result, tier=account.tier),
            order=order,
            campaign_id=rules_campaign(result.rule_ids, config.rules),
            at=now,
        )
        if not pending:
            debt_settle(account=account, key=f"order:{order.pk}:settle")
    # The values were read before this order's points: the POINTS metric counts them too.
    earned = (tx.points + tx.pending_points) if tx else 0
    known = {
        (metric, window): value + (earned if metric == TierMetric.POINTS else 0)
        for (metric, window), value in locked.qualifying.items()
    }
    tier_evaluate(account=account, as_of=now, tiers=config.tiers, known=known)
    return _outcome(account, tx), config


@transaction.atomic
def order_ingest(
    *,
    store: Store,
    external_id: str,
    customer: Customer | None,
    placed_at: dt.datetime,
    total: Decimal,
    channel: str = "",
    discount: Decimal = Decimal(0),
    coupon_code: str = "",
    lines=(),
) -> tuple[Order, bool, EarnOutcome]:
    """Record an order and earn its points in one transaction: an order that exists has earned.
    Posting the same order again returns the first outcome and earns nothing more."""
    order, created = order_record(
        store=store,
        external_id=external_id,
        customer=customer,
        placed_at=placed_at,
        total=total,
        channel=channel,
        discount=discount,
        coupon_code=coupon_code,
        lines=lines,
    )
    outcome, config = _order_earn(
        order=order, new=created, lines=line_amounts(lines) if created else None
    )
    if created and order.customer_id:
        events.publish(
            "order.earned",
            order_id=order.pk,
            customer_id=order.customer_id,
            # Read in the order's own lock query: its subscribers plan with it for free.
            configuration_version=config.version if config else None,
        )
        # Referral and badge bonuses may have moved the balance (and a gift the tier).
        balance, tier_id = (
            LoyaltyAccount.objects.filter(customer_id=order.customer_id)
            .values_list("balance", "tier_id")
            .get()
        )
        tier = config.tiers_by_pk.get(tier_id) if config else None
        outcome = EarnOutcome(outcome.points_earned, outcome.points_pending, balance, tier)
    return order, created, outcome
