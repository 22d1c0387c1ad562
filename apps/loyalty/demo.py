"""Demo data for the loyalty programme, run by ``seed_demo`` after the customers step.

Reference data (programme, four tiers, earn rules, 16 rewards, badges, inbox message
templates) comes from ``fixtures/loyalty_demo.json``. Points are not invented: the programme's
history is replayed week by week through the real services (``demo_history``: welcome bonuses,
earning through the rule engine, refunds clawing back, referrals, redemptions fulfilled or
cancelled by staff, and the nightly maturing, expiry, birthday and reminder jobs), coupons are
used on orders through ``coupon_redeem`` — so ``verify_ledger`` is clean after seeding — and
the members' inboxes get their messages in both languages (``demo_inbox``).
"""

import datetime as dt
import json
import random
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from apps.customers import demo
from apps.customers.enums import OrderChannel, StoreKind
from apps.customers.models import Customer, Store

from .demo_history import history_replay
from .demo_inbox import inbox_seed
from .enums import VOUCHER_KINDS, CouponKind, RedemptionStatus
from .models import (
    Badge,
    CouponBatch,
    EarnRule,
    LoyaltyAccount,
    Programme,
    Redemption,
    Reward,
    Tier,
)
from .services.badges import badges_evaluate
from .services.coupons import coupon_batch_create, coupon_find, coupon_redeem, coupon_validate
from .services.earning import order_ingest
from .services.jobs import points_mature_due
from .services.redemption import (
    reward_redeem,
)

FIXTURE = Path(settings.BASE_DIR) / "fixtures" / "loyalty_demo.json"


def _reference(anchor: dt.datetime) -> dict[str, int]:
    data = json.loads(FIXTURE.read_text(encoding="utf-8"))
    programme = Programme.get()
    for key, value in data["programme"].items():
        setattr(programme, key, value)
    programme.save()
    tiers = {}
    for row in data["tiers"]:
        tiers[row["slug"]] = Tier.objects.update_or_create(slug=row["slug"], defaults=row)[0]
    for row in data["earn_rules"]:
        row = dict(row)
        window = row.pop("window", None)
        if window:
            year = anchor.year if anchor.month >= 10 else anchor.year - 1
            starts, ends = (dt.date.fromisoformat(f"{year}-{md}") for md in window)
            tz = timezone.get_current_timezone()
            row["starts_at"] = dt.datetime.combine(starts, dt.time.min, tzinfo=tz)
            row["ends_at"] = dt.datetime.combine(ends, dt.time.min, tzinfo=tz)
        EarnRule.objects.update_or_create(name_en=row["name_en"], defaults=row)
    for row in data["rewards"]:
        row = dict(row)
        min_tier = row.pop("min_tier", None)
        row["min_tier"] = tiers[min_tier] if min_tier else None
        Reward.objects.update_or_create(slug=row["slug"], defaults=row)
    for row in data["badges"]:
        Badge.objects.update_or_create(slug=row["slug"], defaults=row)
    return {"tiers": len(tiers), "rewards": len(data["rewards"]), "badges": len(data["badges"])}


def _shop_with_coupon(
    *,
    customer: Customer,
    code: str,
    store: Store,
    external_id: str,
    placed_at: dt.datetime,
    products: list[dict],
    rng: random.Random,
) -> bool:
    """One visit to the till with a coupon, the way a till integration does it: validate the
    code for the basket, record the order with its discount (it earns through the rule engine),
    then redeem the code on that order. False when the code cannot be used."""
    coupon = coupon_find(code=code)
    if coupon is None:
        return False
    basket: dict[str, dict] = {}
    gross = Decimal(0)
    while gross < max(coupon.min_spend, Decimal(30)):
        product = rng.choice(products)
        line = basket.setdefault(
            product["sku"],
            {
                "sku": product["sku"],
                "name": product["name"],
                "category": product["category"],
                "quantity": Decimal(0),
                "unit_price": Decimal(product["price"]),
            },
        )
        line["quantity"] += 1
        gross += line["unit_price"]
    check = coupon_validate(code=code, customer=customer, order_total=gross)
    if not check.valid:
        return False
    channel = {
        StoreKind.OFFLINE: OrderChannel.STORE,
        StoreKind.ONLINE: OrderChannel.WEB,
    }.get(store.kind, OrderChannel.MARKETPLACE)
    order_ingest(
        store=store,
        external_id=external_id,
        customer=customer,
        placed_at=placed_at,
        total=gross - check.discount,
        channel=channel,
        discount=check.discount,
        coupon_code=check.code,
        lines=list(basket.values()),
    )
    coupon_redeem(
        code=code,
        customer=customer,
        store=store,
        order_external_id=external_id,
        order_total=gross,
    )
    return True


def _coupon_uses(ctx: demo.DemoContext, rng: random.Random, *, batch: CouponBatch) -> int:
    """Coupons in use, so the wallet's "used" section, the batch report and the coupon uses
    have data: about half of the vouchers still in wallets (redeemed in the history, unused and
    not yet expired; always one of the first demo member's, who redeems one now if they have
    none left) came back with a purchase on the last evening, and 30 codes of the welcome-back
    batch with one during its ten days of validity. Every generated order lies before the
    anchor, like the rest of the demo. Everything goes through the coupon and order services,
    so the limits hold and ``verify_ledger`` stays clean."""
    products = [
        p for p in demo.reference_data()["catalogue"] if not p["sku"].startswith("SNK-MOON")
    ]
    stores = list(Store.objects.filter(is_active=True).order_by("code"))
    online = next((s for s in stores if s.kind == StoreKind.ONLINE), stores[0])
    member_one = Customer.objects.filter(
        pk=ctx.member_customer_ids.get(demo.MEMBER_LOGINS[0])
    ).first()
    evening = ctx.anchor - dt.timedelta(hours=8)
    # Vouchers still in the wallet: redeemed in the history, unused and not yet expired.
    vouchers = Redemption.objects.filter(
        account__customer_id__in=ctx.customer_ids,
        reward__kind__in=VOUCHER_KINDS,
        status=RedemptionStatus.FULFILLED,
        coupon__is_active=True,
        coupon__uses=0,
    ).filter(Q(coupon__valid_until__isnull=True) | Q(coupon__valid_until__gt=timezone.now()))
    if member_one is not None and not vouchers.filter(account__customer=member_one).exists():
        account = LoyaltyAccount.objects.filter(customer=member_one).first()
        balance = account.balance if account is not None else 0
        cheapest = (
            Reward.objects.filter(kind__in=VOUCHER_KINDS, is_active=True, min_tier__isnull=True)
            .exclude(coupon_kind=CouponKind.FREE_SHIPPING)
            .filter(cost_points__lte=balance)
            .order_by("cost_points", "pk")
            .first()
        )
        if cheapest is not None:
            reward_redeem(
                customer=member_one,
                reward=cheapest,
                key=f"demo:{account.pk}:voucher",
                channel="portal",
            )
    visits: list[tuple[Customer, str, Store, dt.datetime]] = []
    for redemption in vouchers.select_related("account__customer__store", "coupon").order_by("pk"):
        customer = redemption.account.customer
        if customer != member_one and rng.random() >= 0.5:
            continue
        coupon = redemption.coupon
        store = online if coupon.kind == CouponKind.FREE_SHIPPING else (customer.store or online)
        when = evening + dt.timedelta(minutes=rng.randint(0, 7 * 60))
        visits.append((customer, coupon.code, store, when))
    valid_from = ctx.anchor - dt.timedelta(days=9)
    shoppers = list(
        Customer.objects.filter(
            pk__in=ctx.customer_ids, anonymized_at__isnull=True, joined_at__lt=valid_from
        )
        .exclude(pk=getattr(member_one, "pk", None))
        .select_related("store")
        .order_by("pk")
    )
    codes = list(batch.coupons.order_by("pk").values_list("code", flat=True)[:30])
    k = min(len(codes), len(shoppers))
    for customer, code in zip(rng.sample(shoppers, k=k), codes[:k], strict=True):
        # Within the batch's validity (from ten days before the anchor), after joining.
        when = valid_from + dt.timedelta(minutes=rng.randint(0, 9 * 24 * 60 - 60))
        visits.append((customer, code, customer.store or online, when))
    used = 0
    for n, (customer, code, store, when) in enumerate(visits, start=1):
        used += _shop_with_coupon(
            customer=customer,
            code=code,
            store=store,
            external_id=f"{store.code.upper()}-C{n:06d}",
            placed_at=when,
            products=products,
            rng=rng,
        )
    return used


def seed_loyalty(ctx: demo.DemoContext) -> dict[str, int]:
    rng = ctx.rng("loyalty")
    counts = _reference(ctx.anchor)
    manager = ctx.users.get("manager@example.com")

    # The programme's days replayed in order: enrolments, earning, refunds, referrals,
    # redemptions and the nightly jobs, each on its day (see ``demo_history``).
    history = history_replay(ctx, ctx.rng("loyalty:history"))
    counts.update(history.counts)
    # Pending points whose return window ended between midnight and now.
    points_mature_due()

    batch = coupon_batch_create(
        name_en="Autumn welcome back ¥20",
        name_zh_hans="秋季回归礼券 ¥20",
        kind="fixed",
        value=Decimal(20),
        min_spend=Decimal(100),
        valid_from=ctx.anchor - dt.timedelta(days=10),
        valid_until=ctx.anchor + dt.timedelta(days=60),
        max_uses=1,
        max_uses_per_customer=1,
        size=200,
        actor=manager,
    )
    counts["coupon codes"] = batch.size
    counts["coupon uses"] = _coupon_uses(ctx, rng, batch=batch)

    # Badges through the real rules, for a sample of members (each award is a ledger write).
    customers = list(Customer.objects.filter(pk__in=ctx.customer_ids).order_by("joined_at", "pk"))
    badges = 0
    for customer in rng.sample(customers, k=min(len(customers), 400)):
        badges += len(badges_evaluate(customer=customer, today=timezone.localdate()))
    counts["badges awarded"] = badges

    templates = json.loads(FIXTURE.read_text(encoding="utf-8"))["messages"]
    counts.update(
        inbox_seed(ctx, ctx.rng("loyalty:inbox"), templates=templates, fulfilled=history.fulfilled)
    )
    return counts
