"""A large deterministic data set, written set-based: customers through ``COPY`` from a seeded
generator, orders, lines, refunds and consents through ``INSERT ... SELECT generate_series``
with ``setseed`` (parallel plans are switched off so ``random()`` is drawn in a fixed order).

At scale 1: 100,000 customers, 1.2 million orders (a tenth of the customers, the regulars, place
30% of them), one line per order, 2% refunded, two consent rows per customer.
"""

import datetime as dt
import random
import time
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection

from apps.customers.demo import reference_data
from apps.customers.identifiers import luhn_check_digit
from apps.customers.models import Store
from apps.customers.services import customer_search_text

CUSTOMERS_AT_SCALE_1 = 100_000
ORDERS_PER_CUSTOMER = 12
HISTORY_DAYS = 450
PREFIXES = ["130", "135", "138", "139", "150", "158", "186", "188", "199"]

CUSTOMER_COLUMNS = [
    "created_at", "updated_at", "member_number", "first_name", "last_name", "email", "phone",
    "birth_date", "gender", "city", "region", "preferred_language", "preferred_channel",
    "joined_at", "source", "store_id", "search_text",
]  # fmt: skip


def anchor() -> dt.datetime:
    tz = ZoneInfo(settings.TIME_ZONE)
    return dt.datetime.combine(dt.datetime.now(tz).date(), dt.time.min, tzinfo=tz)


def _customer_rows(n: int, *, seed: int, stores: list[Store], at: dt.datetime):
    rng = random.Random(seed)
    ref = reference_data()
    family = ref["chinese_family_names"]
    given = ref["chinese_given_names"]["female"] + ref["chinese_given_names"]["male"]
    western_first = ref["western_first_names"]["female"] + ref["western_first_names"]["male"]
    western_last = ref["western_last_names"]
    cities = ref["online_cities"]
    for i in range(n):
        # Multiplying by a prime coprime to the range is a permutation: unique, random-looking.
        body = str(10**8 + (i * 7919 + seed * 104729) % (9 * 10**8))
        member_number = body + luhn_check_digit(body)
        phone = f"+86{rng.choice(PREFIXES)}{(i * 48271 + seed) % 10**8:08d}"
        if rng.random() < 0.8:
            (last, last_py), (first, first_py) = rng.choice(family), rng.choice(given)
            local, language = f"{first_py}.{last_py}", "zh-hans"
        else:
            first, last = rng.choice(western_first), rng.choice(western_last)
            local, language = (
                f"{first.lower()}.{last.lower().encode('ascii', 'ignore').decode()}",
                "en",
            )
        email = f"{local}.{i}@example.com"
        joined = at - dt.timedelta(days=rng.randint(1, 900), minutes=rng.randint(0, 1439))
        city, region = rng.choice(cities)
        yield (
            joined, joined, member_number, first, last, email, phone,
            at.date() - dt.timedelta(days=rng.randint(18 * 365, 70 * 365)),
            rng.choice(["female", "male"]), city, region, language,
            rng.choice(["email", "sms", "portal"]), joined, "store", rng.choice(stores).pk,
            customer_search_text(
                first_name=first, last_name=last, email=email, phone=phone,
                member_number=member_number,
            ),
        )  # fmt: skip


def seed(*, scale: float, seed: int = 42, log=print) -> dict:
    """Write the data set into the (fresh, migrated) database; returns counts and timings."""
    n_customers = max(1000, round(CUSTOMERS_AT_SCALE_1 * scale))
    n_orders = n_customers * ORDERS_PER_CUSTOMER
    at = anchor()
    timings: dict[str, float] = {}
    ref = reference_data()
    stores = Store.objects.bulk_create(
        Store(
            code=s["code"],
            name_en=s["name_en"],
            name_zh_hans=s["name_zh_hans"],
            city=s["city"],
            kind=s["kind"],
        )
        for s in ref["stores"]
    )
    store_ids = sorted(s.pk for s in stores)
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cols = ", ".join(CUSTOMER_COLUMNS)
        with cursor.cursor.copy(f"COPY customers_customer ({cols}) FROM STDIN") as copy:
            for row in _customer_rows(n_customers, seed=seed, stores=stores, at=at):
                copy.write_row(row)
    timings["customers (COPY)"] = time.perf_counter() - started
    log(f"  {n_customers:,} customers in {timings['customers (COPY)']:.1f} s")

    catalogue = ref["catalogue"]
    products = ", ".join(
        f"({i}, %s, %s, %s)" for i in range(len(catalogue))
    )  # values are bound below
    product_params = [v for p in catalogue for v in (p["sku"], p["name"], p["category"])]
    with connection.cursor() as cursor:
        cursor.execute("SET max_parallel_workers_per_gather = 0")
        cursor.execute("SELECT min(id) FROM customers_customer")
        first_id = cursor.fetchone()[0]
        started = time.perf_counter()
        cursor.execute("SELECT setseed(%s)", [((seed % 1000) / 1000.0)])
        cursor.execute(
            """
            INSERT INTO customers_order (created_at, updated_at, store_id, external_id,
                customer_id, placed_at, channel, total, discount, coupon_code, refunded_amount,
                status)
            SELECT t.placed_at, t.placed_at, s.id, 'B' || lpad(t.g::text, 8, '0'),
                   %(first_id)s + t.cidx, t.placed_at,
                   CASE s.kind WHEN 'offline' THEN 'store' WHEN 'online' THEN 'web'
                        ELSE 'marketplace' END,
                   t.total, 0, '', 0, 'paid'
            FROM (
                SELECT g,
                       floor(%(n)s * CASE WHEN random() < 0.3 THEN random() * 0.1
                                          ELSE random() END)::bigint AS cidx,
                       (%(stores)s::bigint[])[1 + floor(random() * %(n_stores)s)::int] AS store_id,
                       %(anchor)s::timestamptz - random() * %(days)s * interval '1 day' AS placed_at,
                       round((28 + random() * 520)::numeric, 2) AS total
                FROM generate_series(1, %(orders)s) AS g
            ) AS t
            JOIN customers_store s ON s.id = t.store_id
            """,
            {
                "first_id": first_id,
                "n": n_customers,
                "stores": store_ids,
                "n_stores": len(store_ids),
                "anchor": at,
                "days": HISTORY_DAYS,
                "orders": n_orders,
            },
        )
        timings["orders (INSERT SELECT)"] = time.perf_counter() - started
        log(f"  {n_orders:,} orders in {timings['orders (INSERT SELECT)']:.1f} s")

        started = time.perf_counter()
        cursor.execute(
            f"""
            INSERT INTO customers_orderline (order_id, sku, name, category, quantity, unit_price)
            SELECT o.id, p.sku, p.name, p.category, 1, o.total
            FROM customers_order o
            JOIN (VALUES {products}) AS p(i, sku, name, category)
              ON p.i = mod(o.id, {len(catalogue)})
            """,
            product_params,
        )
        cursor.execute(
            """
            INSERT INTO customers_refund (order_id, refund_id, amount, at, reason)
            SELECT id, 'RF-' || id, total, placed_at + interval '3 days', 'bench'
            FROM customers_order WHERE mod(id, 50) = 0 AND total > 0
            """
        )
        cursor.execute(
            "UPDATE customers_order SET refunded_amount = total, status = 'refunded' "
            "WHERE mod(id, 50) = 0 AND total > 0"
        )
        cursor.execute(
            """
            INSERT INTO customers_consentrecord (customer_id, channel, purpose, granted, at,
                source, evidence)
            SELECT id, 'email', 'service', true, joined_at, 'bench', '' FROM customers_customer
            UNION ALL
            SELECT id, 'email', 'marketing', mod(id, 5) < 3, joined_at, 'bench', ''
            FROM customers_customer
            """
        )
        timings["lines, refunds, consents"] = time.perf_counter() - started
        started = time.perf_counter()
        cursor.execute("ANALYZE")
        timings["analyze"] = time.perf_counter() - started
        cursor.execute("SELECT count(*) FROM customers_order")
        orders = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM customers_orderline")
        lines = cursor.fetchone()[0]
        cursor.execute("RESET max_parallel_workers_per_gather")
    log(f"  lines, refunds, consents in {timings['lines, refunds, consents']:.1f} s")
    return {
        "customers": n_customers,
        "orders": orders,
        "order_lines": lines,
        "first_customer_id": first_id,
        "timings": timings,
    }
