"""Bulk earning (``orders_earn_bulk``, chunk-level tiers, referrals and badges) against the
per-customer semantics it replaces: the same history earned through ``per_customer_earn`` below
(each chunk's rows, then for each member ``debt_settle`` and ``tier_evaluate`` one by one, then
``order.earned`` published for each member's newest order, so the referral and badge subscribers
run member by member) and through ``orders_earn_bulk`` leaves the same ledger rows in the same
chain order (kinds, points, balances, keys, reasons, details, lots), the same accounts and
tiers, tier history, ``tier.changed`` events, badges and referral states."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import transaction
from django.db.models import Min
from django.utils import timezone

from apps.core import events
from apps.core.db import bulk_insert, bulk_update_fields
from apps.core.models import OutboxEvent
from apps.customers.enums import OrderStatus
from apps.customers.models import Order, OrderLine
from apps.loyalty import ledger
from apps.loyalty.enums import LotStatus, ReferralStatus, TxKind
from apps.loyalty.locks import entry_tier, lock_accounts
from apps.loyalty.models import (
    CustomerBadge,
    LoyaltyAccount,
    PointsLot,
    PointsTransaction,
    Programme,
    Referral,
    Tier,
    TierHistory,
)
from apps.loyalty.rules import OrderFacts, compute_earn, spread_discount
from apps.loyalty.selectors import earn_rules_active
from apps.loyalty.services.bonuses import debt_settle
from apps.loyalty.services.earning import earn_detail
from apps.loyalty.services.earning_bulk import orders_earn_bulk
from apps.loyalty.services.tiers import tier_evaluate
from apps.loyalty.verification import ledger_faults
from tests.customers.factories import CustomerFactory, OrderFactory, OrderLineFactory
from tests.loyalty.factories import BadgeFactory, EarnRuleFactory, TierFactory

pytestmark = pytest.mark.django_db


# --- the per-customer semantics (orders_earn_bulk before the chunk-level after-order work) ---


def per_customer_earn(
    *, order_ids, chunk: int, as_of: dt.datetime, publish_earned: bool = True
) -> int:
    wanted = set(order_ids)
    programme = Programme.get()
    rules, rule_tiers = earn_rules_active()
    customer_ids = sorted(
        set(
            Order.objects.filter(pk__in=wanted, customer__isnull=False).values_list(
                "customer_id", flat=True
            )
        )
    )
    return sum(
        _per_customer_chunk(
            customer_ids[s : s + chunk], wanted, programme, rules, rule_tiers, as_of, publish_earned
        )
        for s in range(0, len(customer_ids), chunk)
    )


@transaction.atomic
def _per_customer_chunk(customer_ids, wanted, programme, rules, rule_tiers, now, publish) -> int:
    entry = entry_tier()
    LoyaltyAccount.objects.bulk_create(
        [
            LoyaltyAccount(customer_id=c, tier=entry, tier_since=now if entry else None)
            for c in customer_ids
        ],
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
    firsts = dict(
        Order.objects.filter(customer_id__in=customer_ids)
        .values("customer_id")
        .annotate(first=Min("placed_at"))
        .values_list("customer_id", "first")
    )
    lines: dict[int, list] = {}
    for ln in OrderLine.objects.filter(order_id__in=[o.pk for o in orders]):
        lines.setdefault(ln.order_id, []).append((ln.sku, ln.category, ln.quantity * ln.unit_price))
    rule_campaign = {r.pk: r.campaign_id for r in rules if r.campaign_id}
    planned = []
    for order in orders:
        account = accounts[order.customer_id]
        tier = tiers.get(account.tier_id)
        result = compute_earn(
            facts=OrderFacts(
                total=order.total,
                placed_at=order.placed_at,
                store_id=order.store_id,
                channel=order.channel,
                lines=spread_discount(lines.get(order.pk, []), order.total),
                tier_id=account.tier_id,
                tier_multiplier=tier.earn_multiplier if tier else Decimal(1),
                first_purchase=firsts.get(order.customer_id) == order.placed_at,
                customer_id=order.customer_id,
            ),
            rate=programme.points_per_currency_unit,
            rules=rules,
            rule_tiers=rule_tiers,
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
        campaign = next((rule_campaign[r] for r in result.rule_ids if r in rule_campaign), None)
        reason = ", ".join(f"{n} {p}" for n, p in result.parts)
        planned.append(
            (order, account, lot, reason, earn_detail(result=result, tier=tier), campaign)
        )
    bulk_insert(PointsLot, [p[2] for p in planned], set_pks=True)
    txs = []
    for order, account, lot, reason, detail, campaign in planned:
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
                campaign_id=campaign,
                at=order.placed_at,
            )
        )
    bulk_insert(PointsTransaction, txs)
    touched = {a.pk: a for _, a, *_ in planned}
    bulk_update_fields(LoyaltyAccount, list(touched.values()), ledger.ACCOUNT_COUNTERS)
    for account in touched.values():
        if account.debt:
            debt_settle(
                account=account, key=f"settle:{account.pk}:{account.last_hash[:16]}", at=now
            )
        tier_evaluate(account=account, as_of=now)
    newest = {order.customer_id: order for order, *_ in planned} if publish else {}
    for order in newest.values():
        events.publish("order.earned", order_id=order.pk, customer_id=order.customer_id)
    return len(planned)


# --- the state both leave ------------------------------------------------------------------


HISTORY_FIELDS = [
    "account__customer_id", "from_tier__slug", "to_tier__slug", "reason", "qualifying_value", "at",
]  # fmt: skip


def _state() -> dict:
    by_customer = dict(LoyaltyAccount.objects.values_list("pk", "customer_id"))
    chains: dict[int, list] = {}
    for tx in PointsTransaction.objects.select_related("lot").order_by("account_id", "id"):
        lot = tx.lot
        chains.setdefault(by_customer[tx.account_id], []).append(
            (
                tx.kind,
                tx.points,
                tx.pending_points,
                tx.balance_after,
                tx.idempotency_key,
                tx.reason,
                tx.detail,
                tx.source_ref,
                tx.order_id,
                tx.campaign_id,
                # Order rows are dated at the order, tier gifts at ``as_of``; referral and badge
                # bonuses at the time they run (a different instant in each run).
                tx.created_at if tx.order_id or "tier-gift" in tx.idempotency_key else None,
                (lot.points, lot.remaining, lot.status, lot.order_id) if lot else None,
            )
        )
    return {
        "chains": chains,
        "accounts": sorted(
            LoyaltyAccount.objects.values_list(
                "customer_id",
                "balance",
                "pending",
                "lifetime_earned",
                "debt",
                "tier__slug",
                "tier_since",
                "tier_review_at",
            )
        ),
        "tier_history": sorted(TierHistory.objects.values_list(*HISTORY_FIELDS)),
        "tier_events": sorted(
            (p["customer_id"], p["old_tier_id"] or 0, p["new_tier_id"], p["direction"])
            for p in OutboxEvent.objects.filter(name="tier.changed").values_list(
                "payload", flat=True
            )
        ),
        "badges": sorted(CustomerBadge.objects.values_list("customer_id", "badge__slug")),
        "referrals": sorted(Referral.objects.values_list("referee_id", "referrer_id", "status")),
    }


def _both(
    order_ids, *, chunk: int, as_of: dt.datetime, publish_earned: bool = True
) -> tuple[dict, dict, int, int]:
    """The state after each path from the same starting point (each run rolled back)."""
    states, counts = [], []
    kwargs = {"chunk": chunk, "as_of": as_of, "publish_earned": publish_earned}
    for run in (
        lambda: per_customer_earn(order_ids=order_ids, **kwargs),
        lambda: orders_earn_bulk(order_ids=order_ids, **kwargs),
    ):
        with transaction.atomic():
            counts.append(run())
            assert list(ledger_faults()) == []
            states.append(_state())
            transaction.set_rollback(True)
    return states[0], states[1], counts[0], counts[1]


@pytest.fixture
def world(programme, store):
    """A programme with tiers (entry gifts), earn rules, a badge of every kind and referrals;
    customers with histories, one who owes points, one with an order earned already."""
    programme.referee_bonus, programme.referrer_bonus = 150, 250
    programme.save()
    TierFactory(slug="member", rank=0)
    TierFactory(slug="silver", rank=1, threshold=Decimal(600), entry_gift_points=40)
    TierFactory(
        slug="gold",
        rank=2,
        threshold=Decimal(2000),
        earn_multiplier=Decimal("1.5"),
        entry_gift_points=100,
    )
    EarnRuleFactory(kind="first_purchase", multiplier=Decimal(1), bonus_points=50)
    EarnRuleFactory(kind="category", category="tea", multiplier=Decimal(2))
    BadgeFactory(slug="first", rule="first_purchase", threshold=1, bonus_points=10)
    BadgeFactory(slug="three", rule="orders_count", threshold=3, bonus_points=30)
    BadgeFactory(slug="big", rule="spend_total", threshold=1500, bonus_points=0)
    BadgeFactory(slug="year", rule="anniversary", threshold=1, bonus_points=20)
    BadgeFactory(slug="friend", rule="referrals", threshold=1, bonus_points=60)
    BadgeFactory(slug="off", rule="orders_count", threshold=1, is_active=False)
    now = timezone.now()
    people = [
        CustomerFactory(joined_at=now - dt.timedelta(days=d)) for d in (800, 30, 500, 90, 400)
    ]
    # Referrals: 0 referred 1 and 2, 2 referred 3 (a chain), 4 (no orders) referred nobody.
    for referrer, referee in ((0, 1), (0, 2), (2, 3)):
        Referral.objects.create(
            referrer=people[referrer], referee=people[referee], code=f"R{referrer}{referee}"
        )
    orders = []
    for who, totals in enumerate([(700, 900, 800), (120,), (300, 2500), (90, 60, 40, 30), ()]):
        for i, total in enumerate(totals):
            order = OrderFactory(
                store=store,
                customer=people[who],
                total=Decimal(total),
                placed_at=now - dt.timedelta(days=60 - 10 * i - who),
            )
            orders.append(order)
    OrderLineFactory(order=orders[0], category="tea", unit_price=Decimal(700))
    OrderLineFactory(order=orders[1], category="coffee", unit_price=Decimal(450))
    OrderLineFactory(order=orders[1], category="tea", unit_price=Decimal(450))
    recent = OrderFactory(store=store, customer=people[3], total=Decimal(55), placed_at=now)
    refunded = OrderFactory(
        store=store,
        customer=people[1],
        total=Decimal(80),
        placed_at=now - dt.timedelta(days=20),
        status=OrderStatus.REFUNDED,
        refunded_amount=Decimal(80),
    )
    orders += [recent, refunded]
    # Member 2 owes 500 points from an earlier refund; member 0 earned an order already.
    LoyaltyAccount.objects.create(customer=people[2], debt=500)
    orders_earn_bulk(order_ids=[orders[0].pk], publish_earned=False)
    return people, orders, now


@pytest.mark.parametrize("chunk", [500, 2, 1])
def test_bulk_earning_leaves_what_the_per_customer_path_leaves(world, chunk):
    people, orders, now = world
    old, new, old_count, new_count = _both([o.pk for o in orders], chunk=chunk, as_of=now)
    assert old_count == new_count == len(orders) - 1  # one had earned already
    assert new == old
    # It did real work: every kind of after-order row is there.
    keys = [row[4] for chain in new["chains"].values() for row in chain]
    assert {k.split(":")[1] for k in keys if k.startswith("bonus:")} == {
        "tier-gift",
        "referral",
        "badge",
    }
    assert any(k.startswith("settle:") or k.endswith(":settle") for k in keys)
    assert sorted(s for _c, s in new["badges"]) == sorted(
        # "year": the two members a year in who earned or referred (not the one without orders)
        ["first"] * 4 + ["three"] * 2 + ["big"] * 2 + ["year"] * 2 + ["friend"] * 2
    )
    assert [r[2] for r in new["referrals"]] == [ReferralStatus.REWARDED] * 3
    gold = Tier.objects.get(slug="gold").pk
    member = Tier.objects.get(slug="member").pk
    # Member 0 from the entry tier, member 2 (whose account predates the tiers) from none.
    assert new["tier_events"] == sorted(
        [(people[0].pk, member, gold, "up"), (people[2].pk, 0, gold, "up")]
    )


def test_bulk_earning_without_after_order_hooks_matches_too(world):
    """``publish_earned=False`` (history back-fills): tiers only, no referral or badge."""
    _people, orders, now = world
    old, new, _, count = _both([o.pk for o in orders], chunk=2, as_of=now, publish_earned=False)
    assert new == old
    assert count == len(orders) - 1
    assert new["badges"] == []
    assert [r[2] for r in new["referrals"]] == [ReferralStatus.PENDING] * 3
    assert len(new["tier_history"]) == 2


def _chunk_queries(store, members: int) -> int:
    """Queries of one bulk-earning chunk of ``members`` new members with two orders each, each
    referred by an existing member (tier moves, gifts, badges and referral rewards for all)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    referrer = CustomerFactory()
    order_ids, member_ids = [], []
    for i in range(members):
        member = CustomerFactory()
        member_ids.append(member.pk)
        Referral.objects.create(referrer=referrer, referee=member, code=f"Q{members}-{i}")
        for days in (40, 20):
            order_ids.append(
                OrderFactory(
                    store=store,
                    customer=member,
                    total=Decimal(900),
                    placed_at=timezone.now() - dt.timedelta(days=days),
                ).pk
            )
    with CaptureQueriesContext(connection) as queries:
        assert orders_earn_bulk(order_ids=order_ids) == 2 * members
    # Each member: first purchase, 1,800 spent, a year in; each rewards its referral.
    assert CustomerBadge.objects.filter(customer_id__in=member_ids).count() == 3 * members
    assert Referral.objects.filter(referrer=referrer, status=ReferralStatus.REWARDED).count() == (
        members
    )
    return len(queries)


def test_a_chunk_costs_the_same_queries_whatever_its_members(world, store):
    assert _chunk_queries(store, 2) == _chunk_queries(store, 8)
