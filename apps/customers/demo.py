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

    from apps.customers import demo

    @demo.register("loyalty", order=10)
    def _seed_loyalty(ctx: demo.DemoContext) -> dict[str, int]:
        rng = ctx.rng("loyalty")
        ...
        return {"loyalty accounts": n}

Steps run in ``order`` after the customers, inside the same transaction, each with its own RNG
derived from the seed (so adding a step never changes what the others draw).
"""

from __future__ import annotations

import datetime as dt
import json
import random
import unicodedata
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from apps.accounts import roles
from apps.accounts.models import User

from .enums import Channel, ConsentPurpose, Gender, OrderChannel, OrderStatus, Source, StoreKind
from .identifiers import luhn_check_digit
from .models import ConsentRecord, Customer, Interaction, Order, OrderLine, Refund, Store, Tag
from .services import customer_search_text

FIXTURE = Path(settings.BASE_DIR) / "fixtures" / "customers_demo.json"
DEFAULT_PASSWORD = "clientele-demo"  # noqa: S105 - the documented demo password
DEFAULT_CUSTOMERS = 2000
DEFAULT_SEED = 42
BATCH = 2000

# (e-mail, full name, role group, superuser)
STAFF_LOGINS = [
    ("admin@example.com", "Alex Admin", roles.ADMINISTRATOR, True),
    ("manager@example.com", "Wang Fang", roles.MANAGER, False),
    ("agent@example.com", "Chen Jing", roles.SUPPORT_AGENT, False),
    ("marketer@example.com", "Sophie Martin", roles.MARKETING, False),
]
MEMBER_LOGINS = ["member1@example.com", "member2@example.com"]
DEMO_LOGINS = [row[0] for row in STAFF_LOGINS] + MEMBER_LOGINS

HISTORY_DAYS = 450  # orders go back ~15 months
CENT = Decimal("0.01")

# Purchase behaviour: (segment, share of customers).
SEGMENTS = [
    ("regular", 15),  # loyal regulars, 8-30 orders a year
    ("occasional", 40),  # a few purchases
    ("one_off", 17),  # bought once
    ("lapsed", 13),  # bought a few times, nothing for 200+ days
    ("dormant", 15),  # enrolled, never bought (yet)
]


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


def register(name: str, *, order: int = 100) -> Callable[[DemoStep], DemoStep]:
    def decorator(step: DemoStep) -> DemoStep:
        if all(existing != name for _o, existing, _s in _steps):
            _steps.append((order, name, step))
            _steps.sort(key=lambda row: (row[0], row[1]))
        return step

    return decorator


def registered_steps() -> list[str]:
    return [name for _order, name, _step in _steps]


# --- helpers ------------------------------------------------------------------------------


@cache
def reference_data() -> dict:
    with FIXTURE.open(encoding="utf-8") as fh:
        return json.load(fh)


def _ascii(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in folded.lower() if ch.isalnum())


def _weighted(rng: random.Random, pairs: list[tuple[object, float]]):
    return rng.choices([p[0] for p in pairs], weights=[p[1] for p in pairs])[0]


def _money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


# Mobile prefixes that libphonenumber accepts for mainland China.
_MOBILE_PREFIXES = ["130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151"]
_MOBILE_PREFIXES += ["152", "153", "155", "156", "157", "158", "159", "166", "173", "176", "177"]
_MOBILE_PREFIXES += ["180", "181", "182", "183", "185", "186", "187", "188", "189", "198", "199"]


def demo_already_seeded() -> str | None:
    """Why seeding would clash with what is in the database, or None when it is free."""
    if Customer.objects.exists():
        return "customers already exist"
    taken = sorted(User.objects.filter(email__in=DEMO_LOGINS).values_list("email", flat=True))
    if taken:
        return "demo logins already exist: " + ", ".join(taken)
    return None


# --- generation ---------------------------------------------------------------------------


@dataclass
class _Person:
    customer: Customer
    segment: str
    wholesale: bool
    order_days: list[int]  # days before the anchor, one per order


class _Generator:
    def __init__(self, *, seed: int, n_customers: int, anchor: dt.datetime, stores: list[Store]):
        self.rng = random.Random(seed)
        self.ref = reference_data()
        self.n = n_customers
        self.anchor = anchor
        self.today = anchor.date()
        self.stores = stores
        self.by_code = {s.code: s for s in stores}
        self.store_weights = {s["code"]: s["weight"] for s in self.ref["stores"]}
        self.store_geo = {s["code"]: (s["city"], s["region"]) for s in self.ref["stores"]}
        self.offline = [s for s in stores if s.kind == StoreKind.OFFLINE]
        self.online = next(s for s in stores if s.kind == StoreKind.ONLINE)
        self.partner = next(s for s in stores if s.kind == StoreKind.PARTNER)
        self.catalogue = self.ref["catalogue"]
        self.by_category: dict[str, list[dict]] = defaultdict(list)
        for product in self.catalogue:
            self.by_category[product["category"]].append(product)
        self.member_numbers: set[str] = set()
        self.phones: set[str] = set()
        self.emails: set[str] = set(DEMO_LOGINS)

    # customers ---------------------------------------------------------------------------

    def member_number(self) -> str:
        while True:
            body = str(self.rng.randrange(10**8, 10**9))  # 9 digits, never a leading 0
            number = body + luhn_check_digit(body)
            if number not in self.member_numbers:
                self.member_numbers.add(number)
                return number

    def phone(self) -> str:
        while True:
            number = "+86" + self.rng.choice(_MOBILE_PREFIXES) + f"{self.rng.randrange(10**8):08d}"
            if number not in self.phones:
                self.phones.add(number)
                return number

    def email(self, local: str) -> str:
        domain = self.rng.choice(self.ref["email_domains"])
        candidate = f"{local}@{domain}"
        while candidate in self.emails:
            candidate = f"{local}{self.rng.randrange(10, 1000)}@{domain}"
        self.emails.add(candidate)
        return candidate

    def name(self) -> tuple[str, str, str, str, bool]:
        """(first_name, last_name, gender, e-mail local part, chinese?)"""
        rng = self.rng
        gender = _weighted(
            rng,
            [(Gender.FEMALE, 52), (Gender.MALE, 44), (Gender.OTHER, 1), (Gender.UNDISCLOSED, 3)],
        )
        pool = gender if gender in (Gender.FEMALE, Gender.MALE) else rng.choice(["female", "male"])
        if rng.random() < 0.8:
            family, family_py = rng.choice(self.ref["chinese_family_names"])
            given, given_py = rng.choice(self.ref["chinese_given_names"][pool])
            style = rng.randrange(3)
            local = [
                f"{given_py}.{family_py}",
                f"{family_py}{given_py}",
                f"{family_py}.{given_py}{rng.randrange(60, 100)}",
            ][style]
            return given, family, gender, local, True
        first = rng.choice(self.ref["western_first_names"][pool])
        last = rng.choice(self.ref["western_last_names"])
        return first, last, gender, f"{_ascii(first)}.{_ascii(last)}", False

    def person(self, index: int) -> _Person:
        rng = self.rng
        first, last, gender, local, chinese = self.name()
        segment = "regular" if index < len(MEMBER_LOGINS) else _weighted(rng, SEGMENTS)
        home_code = _weighted(rng, list(self.store_weights.items()))
        home = self.by_code[home_code]
        if home.kind == StoreKind.OFFLINE:
            city, region = self.store_geo[home_code]
            source = _weighted(
                rng,
                [
                    (Source.STORE, 80),
                    (Source.PORTAL, 8),
                    (Source.REFERRAL, 7),
                    (Source.CAMPAIGN, 5),
                ],
            )
        else:
            city, region = rng.choice(self.ref["online_cities"])
            source = _weighted(
                rng,
                [(Source.PORTAL, 60), (Source.API, 25), (Source.REFERRAL, 10), (Source.IMPORT, 5)],
            )

        # When they joined, and which days they bought on (days before the anchor).
        if segment == "regular":
            joined_days = rng.randint(200, 540)
            n_orders = rng.randint(8, 30)
            lo, hi = 1, min(joined_days, HISTORY_DAYS)
        elif segment == "lapsed":
            joined_days = rng.randint(300, 540)
            n_orders = rng.randint(1, 4)
            lo, hi = 200, min(joined_days, HISTORY_DAYS)
        elif segment == "dormant":
            joined_days = rng.randint(1, 540)
            n_orders, lo, hi = 0, 1, 1
        else:
            joined_days = rng.randint(2, 540)
            n_orders = 1 if segment == "one_off" else rng.randint(2, 6)
            lo, hi = 1, min(joined_days, HISTORY_DAYS)
        days = sorted((rng.randint(lo, hi) for _ in range(n_orders)), reverse=True)
        if days and joined_days <= HISTORY_DAYS and rng.random() < 0.6:
            days[0] = joined_days  # enrolled at the till with their first purchase
        joined_at = self.anchor - dt.timedelta(
            days=joined_days, hours=-rng.randint(9, 20), minutes=-rng.randint(0, 59)
        )

        has_email = index < len(MEMBER_LOGINS) or rng.random() < 0.9
        email = MEMBER_LOGINS[index] if index < len(MEMBER_LOGINS) else ""
        if not email and has_email:
            email = self.email(local)
        phone = self.phone() if rng.random() < 0.95 else ""
        birth_date = None
        if rng.random() < 0.85:
            birth_date = self.today - dt.timedelta(days=rng.randint(18 * 365, 72 * 365))
        language = (
            ("zh-hans" if rng.random() < 0.92 else "en")
            if chinese
            else ("en" if rng.random() < 0.85 else "zh-hans")
        )
        channel = _weighted(rng, [(Channel.EMAIL, 55), (Channel.SMS, 30), (Channel.PORTAL, 15)])
        if channel == Channel.EMAIL and not email:
            channel = Channel.SMS
        number = self.member_number()
        customer = Customer(
            member_number=number,
            first_name=first,
            last_name=last,
            email=email,
            phone=phone,
            birth_date=birth_date,
            gender=gender,
            city=city,
            region=region,
            preferred_language=language,
            preferred_channel=channel,
            joined_at=joined_at,
            created_at=joined_at,
            source=source,
            store=home,
            search_text=customer_search_text(
                first_name=first, last_name=last, email=email, phone=phone, member_number=number
            ),
        )
        wholesale = segment == "regular" and rng.random() < 0.06
        return _Person(customer=customer, segment=segment, wholesale=wholesale, order_days=days)

    def consents(self, person: _Person) -> list[ConsentRecord]:
        rng, c = self.rng, person.customer
        rows: list[ConsentRecord] = []

        def add(channel: str, purpose: str, granted: bool, at: dt.datetime, source: str) -> None:
            rows.append(
                ConsentRecord(
                    customer=c,
                    channel=channel,
                    purpose=purpose,
                    granted=granted,
                    at=at,
                    source=source,
                    evidence="demo data",
                )
            )

        enrol = str(c.source)
        if c.email:
            if rng.random() < 0.97:
                add(Channel.EMAIL, ConsentPurpose.SERVICE, True, c.joined_at, enrol)
            roll = rng.random()
            if roll < 0.6:
                add(Channel.EMAIL, ConsentPurpose.MARKETING, True, c.joined_at, enrol)
                if rng.random() < 0.08:  # later unsubscribed
                    later = c.joined_at + dt.timedelta(days=rng.randint(10, 200))
                    if later < self.anchor:
                        add(Channel.EMAIL, ConsentPurpose.MARKETING, False, later, "unsubscribe")
            elif roll < 0.85:
                add(Channel.EMAIL, ConsentPurpose.MARKETING, False, c.joined_at, enrol)
            if rng.random() < 0.45:
                add(Channel.EMAIL, ConsentPurpose.SURVEYS, True, c.joined_at, enrol)
        if c.phone:
            if rng.random() < 0.8:
                add(Channel.SMS, ConsentPurpose.SERVICE, True, c.joined_at, enrol)
            roll = rng.random()
            if roll < 0.25:
                add(Channel.SMS, ConsentPurpose.MARKETING, True, c.joined_at, enrol)
            elif roll < 0.55:
                add(Channel.SMS, ConsentPurpose.MARKETING, False, c.joined_at, enrol)
        return rows

    # orders ------------------------------------------------------------------------------

    def order_store(self, home: Store) -> Store:
        rng = self.rng
        if home.kind == StoreKind.OFFLINE:
            roll = rng.random()
            if roll < 0.75:
                return home
            if roll < 0.90:
                return self.online
            if roll < 0.95:
                return self.partner
            return rng.choice(self.offline)
        if home.kind == StoreKind.ONLINE:
            roll = rng.random()
            return self.online if roll < 0.85 else self.partner if roll < 0.95 else home
        return self.partner if rng.random() < 0.7 else self.online

    def lines(self, *, wholesale: bool, month: int) -> list[dict]:
        rng = self.rng
        weights = self.ref["category_weights"]
        chosen: dict[str, dict] = {}
        for _ in range(_weighted(rng, [(1, 50), (2, 30), (3, 15), (4, 5)])):
            category = _weighted(rng, list(weights.items()))
            product = rng.choice(self.by_category[category])
            if product["sku"].startswith("SNK-MOON") and month not in (8, 9):
                product = self.by_category["Tea"][0]  # mooncakes only sell before Mid-Autumn
            if product["sku"] in chosen:
                continue
            quantity = (
                rng.randint(5, 20) if wholesale else _weighted(rng, [(1, 75), (2, 20), (3, 5)])
            )
            chosen[product["sku"]] = {**product, "quantity": quantity}
        return list(chosen.values())

    def orders(self, people: list[_Person]) -> list[tuple[_Person, dict]]:
        rng = self.rng
        drafts: list[tuple[_Person, dict]] = []
        for person in people:
            home = person.customer.store
            for days in person.order_days:
                store = self.order_store(home)
                if store.kind == StoreKind.OFFLINE:
                    channel, hour = OrderChannel.STORE, rng.randint(9, 20)
                elif store.kind == StoreKind.ONLINE:
                    channel = OrderChannel.WEB if rng.random() < 0.6 else OrderChannel.APP
                    hour = rng.randint(0, 23)
                else:
                    channel, hour = OrderChannel.MARKETPLACE, rng.randint(0, 23)
                placed_at = (
                    self.anchor
                    - dt.timedelta(days=days)
                    + dt.timedelta(
                        hours=hour, minutes=rng.randint(0, 59), seconds=rng.randint(0, 59)
                    )
                )
                lines = self.lines(wholesale=person.wholesale, month=placed_at.month)
                gross = sum(Decimal(line["price"]) * line["quantity"] for line in lines)
                discount = Decimal(0)
                if rng.random() < 0.12:
                    discount = _money(gross * Decimal(rng.choice([5, 10, 15])) / 100)
                drafts.append(
                    (
                        person,
                        {
                            "store": store,
                            "channel": channel,
                            "placed_at": placed_at,
                            "lines": lines,
                            "discount": discount,
                            "total": _money(gross - discount),
                        },
                    )
                )
        # External ids grow with time in each store, like a till's receipt numbers.
        drafts.sort(key=lambda d: (d[1]["placed_at"], d[0].customer.member_number))
        counters: dict[str, int] = defaultdict(int)
        for _person, draft in drafts:
            code = draft["store"].code
            counters[code] += 1
            draft["external_id"] = f"{code.upper()}-{counters[code]:07d}"
        return drafts


def _anchor() -> dt.datetime:
    tz = ZoneInfo(settings.TIME_ZONE)
    today = timezone.now().astimezone(tz).date()
    return dt.datetime.combine(today, dt.time.min, tzinfo=tz)


def _ensure_reference(ref: dict) -> tuple[list[Store], dict[str, Tag]]:
    stores = []
    for row in ref["stores"]:
        store, _created = Store.objects.get_or_create(
            code=row["code"],
            defaults={"name": row["name"], "city": row["city"], "kind": row["kind"]},
        )
        stores.append(store)
    tags = {}
    for row in ref["tags"]:
        tag, _created = Tag.objects.get_or_create(
            name=row["name"], defaults={"color": row["color"]}
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
    gen = _Generator(seed=seed, n_customers=customers, anchor=anchor, stores=stores)

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
        amount = order.total if full else _money(order.total * Decimal(rng.randint(20, 60)) / 100)
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
