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

from apps.core import events
from apps.customers.enums import OrderChannel
from apps.customers.models import Customer, Order, Store
from apps.customers.services import order_record

from .. import ledger
from ..enums import EarnEvent, EarnRuleKind, LotStatus, TxKind
from ..locks import lock_account
from ..models import EarnRule, LoyaltyAccount, PointsTransaction, Programme, Tier
from ..rules import (
    CONDITIONS,
    EarnResult,
    Miss,
    OrderFacts,
    compute_earn,
    rule_explain,
    spread_discount,
)
from ..selectors import earn_rules_active
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


def _order_facts(
    order: Order, account: LoyaltyAccount, *, needs_first_purchase: bool = True
) -> OrderFacts:
    lines = [(ln.sku, ln.category, ln.quantity * ln.unit_price) for ln in order.lines.all()]
    # Only first-purchase rules (and registered conditions) read this fact: skip the query
    # when nothing will look at it.
    first = (
        not Order.objects.filter(
            customer_id=order.customer_id, placed_at__lt=order.placed_at
        ).exists()
        if needs_first_purchase
        else False
    )
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


def rules_campaign(rule_ids) -> int | None:
    """The campaign whose points multiplier applied to an order, if any (its ledger row carries
    it). A query only when rules applied."""
    if not rule_ids:
        return None
    return (
        EarnRule.objects.filter(pk__in=list(rule_ids), campaign__isnull=False)
        .order_by("pk")
        .values_list("campaign_id", flat=True)
        .first()
    )


def earn_preview(*, order: Order, account: LoyaltyAccount, programme: Programme):
    rules, rule_tiers = earn_rules_active()
    needs_first = bool(CONDITIONS) or any(r.kind == EarnRuleKind.FIRST_PURCHASE for r in rules)
    return compute_earn(
        facts=_order_facts(order, account, needs_first_purchase=needs_first),
        rate=programme.points_per_currency_unit,
        rules=rules,
        rule_tiers=rule_tiers,
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


def _lock_existing_account(customer_id: int) -> LoyaltyAccount:
    """``lock_account`` in one query when the account exists (the usual case for an order)."""
    account = (
        LoyaltyAccount.objects.select_for_update(of=("self",))
        .select_related("tier")
        .filter(customer_id=customer_id)
        .first()
    )
    return account if account is not None else lock_account(customer_id=customer_id)


@transaction.atomic
def order_earn(*, order: Order) -> EarnOutcome:
    """Award the order's points once. Points are pending through the return window, then
    mature (``points_mature_due``). Tier upgrades apply at once."""
    return _order_earn(order=order, new=False)


def _order_earn(*, order: Order, new: bool) -> EarnOutcome:
    """``order_earn`` for a caller already inside a transaction (no savepoint of its own).
    ``new`` says the caller has just created the order row in this transaction, so no ledger
    row can be keyed to it yet and the idempotency lookup is skipped."""
    if order.customer_id is None:
        return EarnOutcome(0, 0, 0, None)
    account = _lock_existing_account(order.customer_id)
    key = f"order:{order.pk}:earn"
    if not new and (done := ledger.tx_exists(key)) is not None:
        return _outcome(account, done)
    programme = Programme.get()
    result = earn_preview(order=order, account=account, programme=programme)
    tx = None
    if result.points > 0:
        available_at = order.placed_at + dt.timedelta(days=programme.pending_days)
        lot = ledger.lot_create(
            account=account,
            points=result.points,
            earned_at=order.placed_at,
            available_at=available_at,
            programme=programme,
            order=order,
        )
        reason = ", ".join(f"{name} {pts}" for name, pts in result.parts)
        detail = earn_detail(result=result, tier=account.tier)
        campaign_id = rules_campaign(result.rule_ids)
        if lot.status == LotStatus.PENDING:
            tx = ledger.append(
                account=account,
                kind=TxKind.PENDING,
                key=key,
                pending_points=result.points,
                reason=reason,
                detail=detail,
                order=order,
                lot=lot,
                campaign_id=campaign_id,
            )
        else:
            tx = ledger.append(
                account=account,
                kind=TxKind.EARN,
                key=key,
                points=result.points,
                reason=reason,
                detail=detail,
                order=order,
                lot=lot,
                campaign_id=campaign_id,
            )
            debt_settle(account=account, key=f"order:{order.pk}:settle")
    tier_evaluate(account=account)
    return _outcome(account, tx)


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
    outcome = _order_earn(order=order, new=created)
    if created and order.customer_id:
        events.publish("order.earned", order_id=order.pk, customer_id=order.customer_id)
        account = LoyaltyAccount.objects.select_related("tier").get(customer_id=order.customer_id)
        outcome = EarnOutcome(
            outcome.points_earned, outcome.points_pending, account.balance, account.tier
        )
    return order, created, outcome
