"""Earning: orders earn through the rules, refunds claw back in proportion, bonuses (sign-up,
events, gifts).

Exactly once (invariant 2): every ledger row has a unique idempotency key derived from what
caused it (``order:<id>:earn``, ``refund:<id>``, ``bonus:signup:<customer>``,
``event:<event>:<customer>:<reference>``); the account row lock serialises concurrent attempts
and the unique key is the backstop.
"""

import datetime as dt
import hashlib
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.db.models import Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.core.db import bulk_insert, bulk_update_fields
from apps.core.exceptions import ValidationFailed
from apps.customers.models import Customer, Order, Refund, Store
from apps.customers.services import order_record

from .. import ledger
from ..enums import EarnEvent, EarnRuleKind, LotStatus, TxKind
from ..locks import entry_tier, lock_account
from ..models import (
    EarnRule,
    LotAllocation,
    LoyaltyAccount,
    PointsLot,
    PointsTransaction,
    Programme,
    Tier,
)
from ..rules import CONDITIONS, OrderFacts, compute_earn, compute_event_bonus, spread_discount


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


def settle_debt(*, account: LoyaltyAccount, key: str) -> int:
    """Points owed from an earlier clawback are taken from newly available points."""
    if account.debt <= 0 or account.balance <= 0:
        return 0
    amount = min(account.debt, account.balance)
    tx = ledger.build(
        account=account,
        kind=TxKind.REFUND,
        key=key,
        points=-amount,
        reason=_("Settles points owed from a refund"),
    )
    tx.save()
    ledger.spend_lots(account=account, points=amount, tx=tx)
    account.debt -= amount
    account.save(update_fields=ledger.ACCOUNT_COUNTERS)
    return amount


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


def earn_preview(*, order: Order, account: LoyaltyAccount, programme: Programme):
    rules, rule_tiers = _active_rules()
    needs_first = bool(CONDITIONS) or any(r.kind == EarnRuleKind.FIRST_PURCHASE for r in rules)
    return compute_earn(
        facts=_order_facts(order, account, needs_first_purchase=needs_first),
        rate=programme.points_per_currency_unit,
        rules=rules,
        rule_tiers=rule_tiers,
    )


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
        detail = ", ".join(f"{name} {pts}" for name, pts in result.parts)
        if lot.status == LotStatus.PENDING:
            tx = ledger.append(
                account=account,
                kind=TxKind.PENDING,
                key=key,
                pending_points=result.points,
                reason=detail,
                order=order,
                lot=lot,
            )
        else:
            tx = ledger.append(
                account=account,
                kind=TxKind.EARN,
                key=key,
                points=result.points,
                reason=detail,
                order=order,
                lot=lot,
            )
            settle_debt(account=account, key=f"order:{order.pk}:settle")
    from .tiers import tier_evaluate

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
        for hook in AFTER_ORDER_HOOKS:
            hook(order=order)
        account = LoyaltyAccount.objects.select_related("tier").get(customer_id=order.customer_id)
        outcome = EarnOutcome(
            outcome.points_earned, outcome.points_pending, account.balance, account.tier
        )
    return order, created, outcome


# Referral rewards and badges register here (they live in their own modules).
AFTER_ORDER_HOOKS: list = []


def _earned_for_order(order: Order) -> int:
    tx = ledger.tx_exists(f"order:{order.pk}:earn")
    return (tx.points + tx.pending_points) if tx else 0


def _share(earned: int, refunded: Decimal, total: Decimal) -> int:
    """The order's points that ``refunded`` (capped at the total) of ``total`` stands for."""
    refunded = min(refunded, total)
    return int((Decimal(earned) * refunded / total).to_integral_value())


def _refund_share(*, refund: Refund, order: Order, earned: int) -> tuple[int, int]:
    """(points this refund stands for, points the refunds before it stood for). Refunds are
    taken in their own order (time, then id), so each one's share is fixed whenever and in
    whatever order they are processed, and the shares add up to the refunded part of what the
    order earned, never more."""
    before = Refund.objects.filter(order=order).filter(
        Q(at__lt=refund.at) | Q(at=refund.at, pk__lt=refund.pk)
    ).aggregate(s=Sum("amount"))["s"] or Decimal(0)
    previous = _share(earned, before, order.total)
    return _share(earned, before + refund.amount, order.total) - previous, previous


@transaction.atomic
def refund_clawback(*, refund: Refund) -> PointsTransaction | None:
    """Claw back the refund's share of the order's points, once per refund (one REFUND ledger
    row, key ``refund:<id>``).

    Policy. The refund's share is the refunded part of what the order earned (shares of split
    refunds add up, see ``_refund_share``). The order's points are now in one of four places,
    and the share is met from them in this order:

    1. still in the order's own lot (pending or available): taken from that lot;
    2. EXPIRED from that lot: not clawed again, they are already gone (the ledger row says how
       many were left out);
    3. SPENT by the member (redeemed, adjusted away, used to settle a debt): taken from the
       member's other available lots, soonest-expiring first;
    4. what those lots cannot cover is recorded as debt (``account.debt``), taken from future
       earnings by ``settle_debt``, so the balance never goes negative.

    Invariant: over all refunds of an order, taken + owed + left out as expired equals the
    refunded share of what it earned, so never more than the order earned. What earlier refunds
    owed counts as clawed: a split refund never charges the same points twice.
    """
    order = refund.order
    if order.customer_id is None:
        return None
    account = lock_account(customer_id=order.customer_id)
    key = f"refund:{refund.pk}"
    if (done := ledger.tx_exists(key)) is not None:
        return done
    earned = _earned_for_order(order)
    if earned <= 0 or order.total <= 0:
        return None
    share, previous = _refund_share(refund=refund, order=order, earned=earned)
    if share <= 0:
        return None
    lot = PointsLot.objects.select_for_update().filter(order=order, account=account).first()
    from_lot = 0
    if lot is not None and lot.status in (LotStatus.PENDING, LotStatus.AVAILABLE):
        from_lot = min(share, lot.remaining)
    # Expired points of the order that earlier refunds have not yet left out. Earlier shares
    # were met from the lot first, then from what had expired, so the part of them beyond what
    # they took from the lot has used up the expired points first.
    expired = 0
    taken_from_lot = 0
    if lot is not None:
        expired = -(
            PointsTransaction.objects.filter(kind=TxKind.EXPIRE, lot=lot).aggregate(
                s=Sum("points")
            )["s"]
            or 0
        )
        taken_from_lot = (
            LotAllocation.objects.filter(
                lot=lot, transaction__kind=TxKind.REFUND, transaction__refund__order=order
            ).aggregate(s=Sum("points"))["s"]
            or 0
        )
    expired_left = expired - min(expired, max(previous - taken_from_lot, 0))
    left_out = min(share - from_lot, expired_left)
    spent = share - from_lot - left_out
    pending = lot is not None and lot.status == LotStatus.PENDING
    from_others = min(spent, account.balance - (0 if pending else from_lot))
    debt = spent - from_others
    reason = _("Refund %(id)s") % {"id": refund.refund_id}
    if left_out:
        reason += "; " + _("%(n)s points had already expired") % {"n": left_out}
    if debt:
        reason += "; " + _("%(n)s points owed") % {"n": debt}
    tx = ledger.build(
        account=account,
        kind=TxKind.REFUND,
        key=key,
        points=-(from_others + (0 if pending else from_lot)),
        pending_points=-(from_lot if pending else 0),
        reason=reason,
        order=order,
        refund=refund,
    )
    tx.save()
    if from_lot:
        ledger.spend_lots(account=account, points=from_lot, tx=tx, lots=[lot])
    if from_others:
        ledger.spend_lots(account=account, points=from_others, tx=tx)
    account.debt += debt
    account.save(update_fields=ledger.ACCOUNT_COUNTERS)
    return tx


@transaction.atomic
def bonus_award(
    *,
    customer: Customer,
    points: int,
    key: str,
    reason: str,
    at: dt.datetime | None = None,
    kind: str = TxKind.EARN,
    actor=None,
    source_ref: str = "",
) -> PointsTransaction | None:
    """Award available points once per ``key`` (sign-up, birthday, referral, badge, tier gift,
    compensation). Returns None when already awarded."""
    if points <= 0:
        return None
    account = lock_account(customer_id=customer.pk)
    if ledger.tx_exists(key) is not None:
        return None
    programme = Programme.get()
    now = at or timezone.now()
    lot = ledger.lot_create(
        account=account, points=points, earned_at=now, available_at=now, programme=programme
    )
    tx = ledger.append(
        account=account,
        kind=kind,
        key=key,
        points=points,
        reason=reason,
        lot=lot,
        actor=actor if getattr(actor, "pk", None) else None,
        source_ref=source_ref,
        at=now,
    )
    settle_debt(account=account, key=f"{key}:settle")
    return tx


def signup_bonus_award(*, customer: Customer) -> PointsTransaction | None:
    """The programme's welcome bonus for a newly enrolled member, once (registered as a
    ``CUSTOMER_ENROLLED_HOOKS`` hook, so it runs in the enrolment's transaction)."""
    programme = Programme.get()
    return bonus_award(
        customer=customer,
        points=programme.signup_bonus,
        key=f"bonus:signup:{customer.pk}",
        reason=_("Welcome bonus"),
        source_ref="signup",
    )


# Ledger keys hold 120 characters: "event:" + event (≤ 32) + ":" + customer id + ":" + reference.
EVENT_REFERENCE_MAX_LENGTH = 64


@dataclass(frozen=True)
class EventBonusOutcome:
    transaction: PointsTransaction | None
    created: bool
    balance: int


@transaction.atomic
def event_bonus_record(*, customer: Customer, event: str, reference: str) -> EventBonusOutcome:
    """``event_bonus_award``, also saying whether this call awarded the points (``created``)
    or found them awarded before, and the member's balance after it (for the API)."""
    if event not in EarnEvent.values:
        raise ValidationFailed(_("Unknown event “%(event)s”.") % {"event": event}, field="event")
    reference = reference.strip()
    if not reference or len(reference) > EVENT_REFERENCE_MAX_LENGTH:
        raise ValidationFailed(
            _("Give the event's reference, at most %(n)s characters.")
            % {"n": EVENT_REFERENCE_MAX_LENGTH},
            field="reference",
        )
    account = lock_account(customer_id=customer.pk)
    # The ledger keeps a digest, not the caller's reference: the ledger is append-only and
    # erasure cannot remove what a reference might carry (an account name, a device id).
    digest = hashlib.sha256(reference.encode()).hexdigest()[:32]
    key = f"event:{event}:{customer.pk}:{digest}"
    if (done := ledger.tx_exists(key)) is not None:
        return EventBonusOutcome(done, False, account.balance)
    rules, rule_tiers = _active_rules()
    now = timezone.now()
    facts = OrderFacts(
        total=Decimal(0),
        placed_at=now,
        store_id=None,
        channel="",
        lines=(),
        tier_id=account.tier_id,
        tier_multiplier=Decimal(1),
        first_purchase=False,
        customer_id=customer.pk,
    )
    result = compute_event_bonus(event=event, facts=facts, rules=rules, rule_tiers=rule_tiers)
    if result.points <= 0:
        return EventBonusOutcome(None, False, account.balance)
    tx = bonus_award(
        customer=customer,
        points=result.points,
        key=key,
        reason=", ".join(f"{name} {pts}" for name, pts in result.parts),
        at=now,
        source_ref=f"{event}:{digest}"[:64],
    )
    account.refresh_from_db(fields=["balance"])
    return EventBonusOutcome(tx, True, account.balance)


def event_bonus_award(
    *, customer: Customer, event: str, reference: str
) -> PointsTransaction | None:
    """Award the bonus of every active event rule for ``event`` (window, tier limits, priority
    and stacking as in ``apps.loyalty.rules``), once per (customer, event, reference): the
    ledger key ``event:<event>:<customer>:<digest of the reference>`` is unique, so the same
    reference again returns the first transaction and awards nothing more. Returns None when no
    rule applies (nothing is written, so a rule switched on later still rewards that
    reference). Available at once; settles points owed first. Refuses an unknown event or a
    blank reference."""
    return event_bonus_record(customer=customer, event=event, reference=reference).transaction


def _active_rules() -> tuple[list[EarnRule], dict[int, set[int]]]:
    rules = list(EarnRule.objects.filter(is_active=True))
    rule_tiers: dict[int, set[int]] = {}
    if not rules:
        return rules, rule_tiers
    for rule_id, tier_id in EarnRule.tiers.through.objects.filter(earnrule__in=rules).values_list(
        "earnrule_id", "tier_id"
    ):
        rule_tiers.setdefault(rule_id, set()).add(tier_id)
    return rules, rule_tiers


def orders_earn_bulk(
    *, order_ids, chunk: int = 500, run_hooks: bool = True, at_order_time: bool = True
) -> int:
    """Earn points for many orders at once (imports, seeding), chunked by customer: one chunk
    locks its accounts, reads its orders and lines in a few queries, computes points with the
    same rule engine and writes lots and chained ledger rows with bulk inserts. Orders that
    already earned are skipped (same idempotency keys as ``order_earn``). Tier upgrades are
    applied per account at the end of its chunk, and the after-order hooks (referral rewards,
    badges) run once per customer with their newest order. Accounts it creates start in the
    entry tier, like ``locks.account_ensure``. ``at_order_time`` (the default: imports and demo
    data back-fill history) dates the ledger rows at each order's time, so a points-metric tier
    counts them in the window they belong to; False dates them now. Returns the number of orders
    that earned."""
    wanted = set(order_ids)
    if not wanted:
        return 0
    programme = Programme.get()
    rules, rule_tiers = _active_rules()
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
            run_hooks,
            at_order_time,
        )
    return earned


@transaction.atomic
def _earn_chunk(
    customer_ids, wanted, programme, rules, rule_tiers, run_hooks, at_order_time
) -> int:
    from django.db.models import Min

    from apps.customers.models import OrderLine

    from ..locks import lock_accounts
    from .tiers import tier_evaluate

    # New accounts start in the entry tier, as ``account_ensure`` creates them.
    entry = entry_tier()
    joined = timezone.now() if entry else None
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
    now = timezone.now()
    planned = []
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
        planned.append((order, account, lot, ", ".join(f"{n} {p}" for n, p in result.parts)))
    bulk_insert(PointsLot, [p[2] for p in planned], set_pks=True)
    txs = []
    for order, account, lot, detail in planned:
        pending = lot.status == LotStatus.PENDING
        txs.append(
            ledger.build(
                account=account,
                kind=TxKind.PENDING if pending else TxKind.EARN,
                key=f"order:{order.pk}:earn",
                points=0 if pending else lot.points,
                pending_points=lot.points if pending else 0,
                reason=detail,
                order=order,
                lot=lot,
                at=order.placed_at if at_order_time else None,
            )
        )
    bulk_insert(PointsTransaction, txs)
    touched = {a.pk: a for _, a, _, _ in planned}
    bulk_update_fields(LoyaltyAccount, list(touched.values()), ledger.ACCOUNT_COUNTERS)
    for account in touched.values():
        if account.debt:
            settle_debt(account=account, key=f"settle:{account.pk}:{account.last_hash[:16]}")
        tier_evaluate(account=account)
    if run_hooks:
        newest = {order.customer_id: order for order, _, _, _ in planned}
        for order in newest.values():
            for hook in AFTER_ORDER_HOOKS:
                hook(order=order)
    return len(planned)


@transaction.atomic
def refund_ingest(
    *, order: Order, refund_id: str, amount: Decimal, reason: str = ""
) -> tuple[Refund, bool, PointsTransaction | None]:
    """Record a refund and claw back its points in one transaction: a refund that exists has
    reversed its points. The same refund id again returns the first result."""
    from apps.customers.services import refund_record

    refund, created = refund_record(order=order, refund_id=refund_id, amount=amount, reason=reason)
    return refund, created, refund_clawback(refund=refund)
