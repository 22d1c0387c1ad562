"""The synthetic people of the demo: reference data (``fixtures/customers_demo.json``), purchase
behaviour by segment, and the generator that draws customers, orders and refunds from a seeded
RNG (see ``apps.customers.demo`` for how seeding runs)."""

from __future__ import annotations

import datetime as dt
import json
import random
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from pathlib import Path

from django.conf import settings

from .enums import Channel, ConsentPurpose, Gender, OrderChannel, Source, StoreKind
from .identifiers import luhn_check_digit
from .models import ConsentRecord, Customer, Store
from .services import customer_search_text

FIXTURE = Path(settings.BASE_DIR) / "fixtures" / "customers_demo.json"

# The demo members who log in to the portal (the first customers drawn, regulars).
MEMBER_LOGINS = ["member1@example.com", "member2@example.com"]
HISTORY_DAYS = 730  # orders go back two years
ENROL_DAYS = 800  # the programme enrolled its first members about 26 months ago
CENT = Decimal("0.01")

# Purchase behaviour: (segment, share of customers).
SEGMENTS = [
    ("regular", 15),  # loyal regulars, 8-30 orders a year
    ("occasional", 40),  # a few purchases
    ("one_off", 17),  # bought once
    ("lapsed", 13),  # bought a few times, nothing for 200+ days
    ("dormant", 15),  # enrolled, never bought (yet)
]


# --- helpers ------------------------------------------------------------------------------


@cache
def reference_data() -> dict:
    with FIXTURE.open(encoding="utf-8") as fh:
        return json.load(fh)


def ascii_fold(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in folded.lower() if ch.isalnum())


def weighted(rng: random.Random, pairs: list[tuple[object, float]]):
    return rng.choices([p[0] for p in pairs], weights=[p[1] for p in pairs])[0]


def money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


# Mobile prefixes that libphonenumber accepts for mainland China.
_MOBILE_PREFIXES = ["130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151"]
_MOBILE_PREFIXES += ["152", "153", "155", "156", "157", "158", "159", "166", "173", "176", "177"]
_MOBILE_PREFIXES += ["180", "181", "182", "183", "185", "186", "187", "188", "189", "198", "199"]


# --- generation ---------------------------------------------------------------------------


@dataclass
class Person:
    customer: Customer
    segment: str
    wholesale: bool
    order_days: list[int]  # days before the anchor, one per order


class Generator:
    def __init__(
        self,
        *,
        seed: int,
        n_customers: int,
        anchor: dt.datetime,
        stores: list[Store],
        reserved_emails: list[str],
    ):
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
        self.emails: set[str] = set(reserved_emails)  # the demo logins

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
        gender = weighted(
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
        return first, last, gender, f"{ascii_fold(first)}.{ascii_fold(last)}", False

    def person(self, index: int) -> Person:
        rng = self.rng
        first, last, gender, local, chinese = self.name()
        segment = "regular" if index < len(MEMBER_LOGINS) else weighted(rng, SEGMENTS)
        home_code = weighted(rng, list(self.store_weights.items()))
        home = self.by_code[home_code]
        if home.kind == StoreKind.OFFLINE:
            city, region = self.store_geo[home_code]
            source = weighted(
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
            source = weighted(
                rng,
                [(Source.PORTAL, 60), (Source.API, 25), (Source.REFERRAL, 10), (Source.IMPORT, 5)],
            )

        # When they joined, and which days they bought on (days before the anchor).
        if segment == "regular":
            joined_days = rng.randint(200, ENROL_DAYS)
            lo, hi = 1, min(joined_days, HISTORY_DAYS)
            n_orders = round(rng.randint(8, 30) * max(1.0, hi / 365))
        elif segment == "lapsed":
            joined_days = rng.randint(300, ENROL_DAYS)
            n_orders = rng.randint(1, 4)
            lo, hi = 200, min(joined_days, HISTORY_DAYS)
        elif segment == "dormant":
            joined_days = rng.randint(1, ENROL_DAYS)
            n_orders, lo, hi = 0, 1, 1
        else:
            joined_days = rng.randint(2, ENROL_DAYS)
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
        channel = weighted(rng, [(Channel.EMAIL, 55), (Channel.SMS, 30), (Channel.PORTAL, 15)])
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
        return Person(customer=customer, segment=segment, wholesale=wholesale, order_days=days)

    def consents(self, person: Person) -> list[ConsentRecord]:
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
        for _ in range(weighted(rng, [(1, 50), (2, 30), (3, 15), (4, 5)])):
            category = weighted(rng, list(weights.items()))
            product = rng.choice(self.by_category[category])
            if product["sku"].startswith("SNK-MOON") and month not in (8, 9):
                product = self.by_category["Tea"][0]  # mooncakes only sell before Mid-Autumn
            if product["sku"] in chosen:
                continue
            quantity = (
                rng.randint(5, 20) if wholesale else weighted(rng, [(1, 75), (2, 20), (3, 5)])
            )
            chosen[product["sku"]] = {**product, "quantity": quantity}
        return list(chosen.values())

    def orders(self, people: list[Person]) -> list[tuple[Person, dict]]:
        rng = self.rng
        drafts: list[tuple[Person, dict]] = []
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
                    discount = money(gross * Decimal(rng.choice([5, 10, 15])) / 100)
                drafts.append(
                    (
                        person,
                        {
                            "store": store,
                            "channel": channel,
                            "placed_at": placed_at,
                            "lines": lines,
                            "discount": discount,
                            "total": money(gross - discount),
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
