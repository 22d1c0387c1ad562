"""Deterministic demo data for ``manage.py seed_demo``.

Everything is drawn from ``random.Random`` seeded with the command's ``--seed``: the same seed
gives the same customers, names, member numbers, phones, orders, totals and refunds (dates are
anchored on today's local midnight, so they shift with the calendar, not with the clock).
Reference data (stores, product catalogue, names, tags) lives in ``fixtures/customers_demo.json``.

Rows are written with ``bulk_create`` in one transaction, bypassing the per-row services on
purpose: the services write an audit event per change, which is right for people and wrong for
2,000 synthetic customers. The bulk path keeps the same derived values the services keep —
``search_text`` through :func:`customer_search_text`, valid Luhn member numbers, E.164 phones,
``Order.status`` and ``refunded_amount`` equal to what the ``Refund`` rows say.

Apps above ``customers`` (loyalty, complaints, surveys, campaigns) add their own demo data by
registering a step in their ``AppConfig.ready``::

    demo.register("loyalty", loyalty_demo.seed_loyalty, order=10)

where ``seed_loyalty(ctx: demo.DemoContext) -> dict[str, int]`` draws from ``ctx.rng("loyalty")``.

Steps run in ``order`` after the customers, inside the same transaction, each with its own RNG
derived from the seed (so adding a step never changes what the others draw).
"""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from zoneinfo import ZoneInfo

from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from apps.accounts import roles
from apps.accounts.models import User
from apps.core import events

from .demo_people import CENT, MEMBER_LOGINS, Generator, money, reference_data
from .enums import Channel, ConsentPurpose, OrderStatus
from .models import ConsentRecord, Customer, Interaction, Order, OrderLine, Refund, Store, Tag

DEFAULT_PASSWORD = "clientele-demo"  # noqa: S105 - the documented demo password
DEFAULT_CUSTOMERS = 2000
DEFAULT_SEED = 42
BATCH = 2000

# (e-mail, full name, role group, superuser)
STAFF_LOGINS = [
    ("admin@example.com", "Alex Admin", roles.ADMINISTRATOR, True),
    ("manager@example.com", "王芳", roles.MANAGER, False),
    ("agent@example.com", "陈静", roles.SUPPORT_AGENT, False),
    ("marketer@example.com", "Sophie Martin", roles.MARKETING, False),
]
DEMO_LOGINS = [row[0] for row in STAFF_LOGINS] + MEMBER_LOGINS

# --- registry for other apps' steps -------------------------------------------------------


@dataclass
class DemoContext:
    seed: int
    anchor: dt.datetime  # today's local midnight; everything generated lies before it
    password: str
    users: dict[str, User]  # demo logins by e-mail
    customer_ids: list[int]  # in generation order
    member_customer_ids: dict[str, int]  # member login e-mail -> customer id
    store_ids: dict[str, int]  # store code -> id
    write: Callable[[str], None] = print
    counts: dict[str, int] = field(default_factory=dict)

    def rng(self, name: str) -> random.Random:
        """An RNG of its own for one step, derived from the seed."""
        return random.Random(f"{self.seed}:{name}")


DemoStep = Callable[[DemoContext], dict[str, int] | None]
_steps: list[tuple[int, str, DemoStep]] = []


def register(name: str, step: DemoStep, *, order: int = 100) -> None:
    """Add a step (in ``AppConfig.ready()`` only; registering a name twice is a no-op)."""
    events.wiring_only(f"the demo step {name!r}")
    if all(existing != name for _o, existing, _s in _steps):
        _steps.append((order, name, step))
        _steps.sort(key=lambda row: (row[0], row[1]))


def registered_steps() -> list[str]:
    return [name for _order, name, _step in _steps]


def demo_already_seeded() -> str | None:
    """Why seeding would clash with what is in the database, or None when it is free."""
    if Customer.objects.exists():
        return "customers already exist"
    taken = sorted(User.objects.filter(email__in=DEMO_LOGINS).values_list("email", flat=True))
    if taken:
        return "demo logins already exist: " + ", ".join(taken)
    return None


def _anchor() -> dt.datetime:
    tz = ZoneInfo(settings.TIME_ZONE)
    today = timezone.now().astimezone(tz).date()
    return dt.datetime.combine(today, dt.time.min, tzinfo=tz)


def _ensure_reference(ref: dict) -> tuple[list[Store], dict[str, Tag]]:
    stores = []
    for row in ref["stores"]:
        store, _created = Store.objects.get_or_create(
            code=row["code"],
            defaults={
                "name_en": row["name_en"],
                "name_zh_hans": row["name_zh_hans"],
                "city": row["city"],
                "kind": row["kind"],
            },
        )
        stores.append(store)
    tags = {}
    for row in ref["tags"]:
        tag, _created = Tag.objects.get_or_create(
            name=row["name"],
            defaults={
                "color": row["color"],
                "label_en": row["label_en"],
                "label_zh_hans": row["label_zh_hans"],
            },
        )
        tags[row["name"]] = tag
    return stores, tags


def _create_logins(password: str) -> dict[str, User]:
    # One hash for all: they share the documented demo password anyway, and hashing six times
    # with the production hasher costs seconds.
    hashed = make_password(password)
    users: dict[str, User] = {}
    for email, full_name, role, superuser in STAFF_LOGINS:
        user = User.objects.create(
            email=email,
            full_name=full_name,
            is_staff=True,
            is_superuser=superuser,
            password=hashed,
        )
        user.groups.add(Group.objects.get(name=role))
        users[email] = user
    for email in MEMBER_LOGINS:
        users[email] = User.objects.create(email=email, password=hashed, language="en")
    EmailAddress.objects.bulk_create(
        EmailAddress(user=user, email=user.email, primary=True, verified=True)
        for user in users.values()
    )
    return users


@transaction.atomic
def demo_seed(
    *,
    customers: int = DEFAULT_CUSTOMERS,
    seed: int = DEFAULT_SEED,
    password: str = DEFAULT_PASSWORD,
    write: Callable[[str], None] = print,
) -> dict[str, int]:
    """Write the demo data set; returns counts by kind. The caller checks
    :func:`demo_already_seeded` first (the unique keys would refuse a second run anyway)."""
    if customers < len(MEMBER_LOGINS):
        raise ValueError(f"At least {len(MEMBER_LOGINS)} customers are needed.")
    ref = reference_data()
    anchor = _anchor()
    stores, tags = _ensure_reference(ref)
    users = _create_logins(password)
    gen = Generator(
        seed=seed,
        n_customers=customers,
        anchor=anchor,
        stores=stores,
        reserved_emails=DEMO_LOGINS,
    )

    people = [gen.person(i) for i in range(customers)]
    for index, email in enumerate(MEMBER_LOGINS):
        people[index].customer.user = users[email]
        users[email].full_name = people[index].customer.display_name
    User.objects.bulk_update([users[e] for e in MEMBER_LOGINS], ["full_name"])
    Customer.objects.bulk_create([p.customer for p in people], batch_size=BATCH)

    consents = [row for person in people for row in gen.consents(person)]
    ConsentRecord.objects.bulk_create(consents, batch_size=BATCH)

    drafts = gen.orders(people)
    orders = [
        Order(
            store=d["store"],
            external_id=d["external_id"],
            customer=person.customer,
            placed_at=d["placed_at"],
            created_at=d["placed_at"],
            channel=d["channel"],
            total=d["total"],
            discount=d["discount"],
        )
        for person, d in drafts
    ]

    # Refunds: about 3.5% of orders older than the 14-day return window, half of them in full.
    rng = gen.rng
    refunds: list[Refund] = []
    complained: set[int] = set()
    window_end = anchor - dt.timedelta(days=15)
    for order in orders:
        if order.placed_at >= window_end or order.total <= 0 or rng.random() >= 0.035:
            continue
        full = rng.random() < 0.5
        amount = order.total if full else money(order.total * Decimal(rng.randint(20, 60)) / 100)
        amount = max(min(amount, order.total), CENT)
        reason = rng.choice(ref["refund_reasons"])
        refunds.append(
            Refund(
                order=order,
                refund_id=f"RF-{order.external_id}",
                amount=amount,
                reason=reason,
                at=order.placed_at + dt.timedelta(days=rng.randint(1, 14), hours=rng.randint(0, 3)),
            )
        )
        order.refunded_amount = amount
        order.status = (
            OrderStatus.REFUNDED if amount >= order.total else OrderStatus.PARTIALLY_REFUNDED
        )
        if reason == "Quality complaint":
            complained.add(id(order.customer))
    Order.objects.bulk_create(orders, batch_size=BATCH)
    OrderLine.objects.bulk_create(
        (
            OrderLine(
                order=order,
                sku=line["sku"],
                name=line["name"],
                category=line["category"],
                quantity=Decimal(line["quantity"]),
                unit_price=Decimal(line["price"]),
            )
            for order, (_person, draft) in zip(orders, drafts, strict=True)
            for line in draft["lines"]
        ),
        batch_size=BATCH,
    )
    for refund in refunds:
        refund.order_id = refund.order.pk
    Refund.objects.bulk_create(refunds, batch_size=BATCH)

    # Interactions logged by the agent (some by the manager) with customers who bought.
    agent, manager = users["agent@example.com"], users["manager@example.com"]
    interactions = []
    for person in people:
        if not person.order_days or rng.random() >= 0.12:
            continue
        for _ in range(rng.randint(1, 3)):
            kind, summary = rng.choice(ref["interactions"])
            days = rng.randint(0, max(person.order_days[0] - 1, 0))
            interactions.append(
                Interaction(
                    customer=person.customer,
                    kind=kind,
                    summary=summary,
                    author=manager if rng.random() < 0.2 else agent,
                    at=anchor - dt.timedelta(days=days, hours=rng.randint(1, 14)),
                )
            )
            if "omplain" in summary:
                complained.add(id(person.customer))
    Interaction.objects.bulk_create(interactions, batch_size=BATCH)

    # Tags.
    spend: dict[int, Decimal] = defaultdict(Decimal)
    for order in orders:
        spend[id(order.customer)] += order.total
    regulars = sorted(
        (p for p in people if p.segment == "regular"),
        key=lambda p: (-spend[id(p.customer)], p.customer.member_number),
    )
    latest_marketing: dict[int, bool] = {}
    for record in sorted(consents, key=lambda r: r.at):
        if record.channel == Channel.EMAIL and record.purpose == ConsentPurpose.MARKETING:
            latest_marketing[id(record.customer)] = record.granted
    gift_buyers = {
        id(person.customer)
        for person, draft in drafts
        if any(line["category"] == "Gifts" and line["quantity"] >= 2 for line in draft["lines"])
    }
    through = Customer.tags.through
    links = []
    vip = {id(p.customer) for p in regulars[: max(1, len(people) // 33)]}
    for person in people:
        key = id(person.customer)
        names = []
        if key in vip:
            names.append("VIP")
        if person.wholesale:
            names.append("Wholesale")
        if key in complained:
            names.append("Complained")
        if latest_marketing.get(key) and rng.random() < 0.7:
            names.append("Newsletter")
        if key in gift_buyers and rng.random() < 0.5:
            names.append("Corporate gifts")
        links.extend(through(customer_id=person.customer.pk, tag_id=tags[n].pk) for n in names)
    through.objects.bulk_create(links, batch_size=BATCH)

    counts = {
        "stores": len(stores),
        "customers": len(people),
        "consent records": len(consents),
        "orders": len(orders),
        "order lines": sum(len(d["lines"]) for _p, d in drafts),
        "refunds": len(refunds),
        "interactions": len(interactions),
        "tag links": len(links),
        "logins": len(users),
    }
    ctx = DemoContext(
        seed=seed,
        anchor=anchor,
        password=password,
        users=users,
        customer_ids=[p.customer.pk for p in people],
        member_customer_ids={e: people[i].customer.pk for i, e in enumerate(MEMBER_LOGINS)},
        store_ids={s.code: s.pk for s in stores},
        write=write,
        counts=counts,
    )
    for _order, name, step in list(_steps):
        for key, value in (step(ctx) or {}).items():
            counts[f"{key}"] = value
        write(f"  step {name}: done")
    return counts
