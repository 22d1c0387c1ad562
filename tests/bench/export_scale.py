"""The customer export at a million customers (issue 15: at most 8x ``COPY`` at 100k and at 1M,
flat memory): a copy of the bench database grown to ``--export-customers`` customers.

The copy (``<bench database>_export``, ``CREATE DATABASE ... TEMPLATE`` the bench database) gets
the missing customers set-based, each a variant of a bench customer (names, city, channel,
language, store; a member number, e-mail and phone of its own; a join time near the original's),
with a loyalty account (balance, pending and lifetime points; no ledger: the export reads the
account's counters, and nothing verifies this copy's ledger), one order for two customers in
three, and two or three consent records. Every customer of the copy, the bench's included, then
holds a tier (four tiers by lifetime points) and zero to three of six tags, so every column of
the export has values. The trigram search index is dropped in the copy (the export does not
search; it only slows the seeding). A copy that already holds the asked number of customers is
reused; drop it to seed it again.

Django's connection is pointed at the copy for the measurement (``using_database``) and back at
the bench database afterwards, whatever happens.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from django.db import connection, connections
from psycopg import sql

TAGS = (  # name, label, every n-th customer
    ("vip", "VIP", 10),
    ("newsletter", "Newsletter", 3),
    ("wholesale", "Wholesale", 25),
    ("birthday-club", "Birthday club", 4),
    ("staff", "Staff", 97),
    ("complained", "Complained", 16),
)
TIERS = (  # slug, name, rank, lifetime points from
    ("member", "Member", 0, 0),
    ("silver", "Silver", 1, 2_000),
    ("gold", "Gold", 2, 8_000),
    ("platinum", "Platinum", 3, 16_000),
)


def _conninfo(dbname: str) -> str:
    db = connection.settings_dict
    return psycopg.conninfo.make_conninfo(
        dbname=dbname,
        user=db.get("USER") or None,
        host=db.get("HOST") or None,
        port=db.get("PORT") or None,
        password=db.get("PASSWORD") or None,
    )


def _customers_in(dbname: str) -> int | None:
    """The number of customers in database ``dbname``, or None when it does not exist."""
    with psycopg.connect(_conninfo("postgres"), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [dbname]).fetchone():
            return None
    with psycopg.connect(_conninfo(dbname), autocommit=True) as conn:
        return conn.execute("SELECT count(*) FROM customers_customer").fetchone()[0]


def _copy_database(source: str, target: str) -> None:
    connections.close_all()  # a template must have no other session
    with psycopg.connect(_conninfo("postgres"), autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(target))
        )
        for attempt in range(10):
            try:
                conn.execute(
                    sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                        sql.Identifier(target), sql.Identifier(source)
                    )
                )
                return
            except psycopg.errors.ObjectInUse:
                if attempt == 9:
                    raise
                time.sleep(3)


@contextmanager
def using_database(name: str) -> Iterator[None]:
    """Django's default connection on database ``name`` inside the block."""
    settings_dict = connection.settings_dict
    saved = settings_dict["NAME"]
    connection.close()
    settings_dict["NAME"] = name
    try:
        yield
    finally:
        connection.close()
        settings_dict["NAME"] = saved


def _grow(customers: int, *, log=print) -> dict[str, float]:
    """Add customers (with accounts, orders, consents) until there are ``customers``; give every
    customer a tier and tags. On the current connection, committed step by step."""
    timings: dict[str, float] = {}

    def step(label: str, statements: list[tuple[str, list | dict | None]]) -> None:
        started = time.perf_counter()
        with connection.cursor() as cursor:
            for statement, params in statements:
                cursor.execute(statement, params)
        timings[label] = time.perf_counter() - started
        log(f"    {label} in {timings[label]:.1f} s")

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*), max(id) FROM customers_customer")
        existing, last_id = cursor.fetchone()
    missing = customers - existing
    step("drop the search index", [("DROP INDEX IF EXISTS customers_customer_search_trgm", None)])
    step(
        f"{missing:,} customers",
        [
            (
                """
                INSERT INTO customers_customer (created_at, updated_at, member_number,
                    first_name, last_name, email, phone, birth_date, gender, city, region,
                    preferred_language, preferred_channel, joined_at, source, store_id,
                    search_text)
                SELECT j.joined, j.joined, '8' || lpad(g::text, 10, '0'), c.first_name,
                       c.last_name, split_part(c.email, '@', 1) || '.x' || g || '@example.com',
                       '+86' || (130 + g %% 70)::text
                           || lpad(((g::bigint * 48271) %% 100000000)::text, 8, '0'),
                       c.birth_date + (g %% 365), c.gender, c.city, c.region,
                       c.preferred_language, c.preferred_channel, j.joined, c.source,
                       c.store_id, c.search_text || ' 8' || lpad(g::text, 10, '0')
                FROM generate_series(1, %(missing)s) AS g
                JOIN (
                    SELECT row_number() OVER (ORDER BY id) - 1 AS k, *
                    FROM customers_customer
                ) AS c ON c.k = g %% %(existing)s
                CROSS JOIN LATERAL (
                    SELECT c.joined_at - (g %% 997) * interval '7 minutes' AS joined
                ) AS j
                """,
                {"missing": missing, "existing": existing},
            )
        ],
    )
    tier_values = ", ".join(
        f"(now(), now(), '{name}', '{name}', '{slug}', {rank}, 'points', {points}, {points},"
        f" 12, 1, '', 0, '#6c757d', '', '')"
        for slug, name, rank, points in TIERS
    )
    step(
        "tiers and accounts",
        [
            (
                "INSERT INTO loyalty_tier (created_at, updated_at, name, name_en, slug, rank,"
                " metric, threshold, retention_threshold, window_months, earn_multiplier,"
                " benefits, entry_gift_points, color, benefits_en, benefits_zh_hans)"
                f" VALUES {tier_values} ON CONFLICT DO NOTHING",
                None,
            ),
            (
                """
                INSERT INTO loyalty_loyaltyaccount (created_at, updated_at, balance, pending,
                    lifetime_earned, debt, last_hash, customer_id)
                SELECT joined_at, joined_at, (id * 37) %% 9000, (id * 13) %% 400,
                       (id * 37) %% 9000 + (id * 101) %% 12000, 0, repeat('0', 64), id
                FROM customers_customer WHERE id > %(last)s
                """,
                {"last": last_id},
            ),
            (
                """
                UPDATE loyalty_loyaltyaccount a SET tier_id = (
                    SELECT t.id FROM loyalty_tier t
                    WHERE t.threshold <= a.lifetime_earned ORDER BY t.rank DESC LIMIT 1
                )
                """,
                None,
            ),
        ],
    )
    step(
        "orders",
        [
            (
                """
                INSERT INTO customers_order (created_at, updated_at, store_id, external_id,
                    customer_id, placed_at, channel, total, discount, coupon_code,
                    refunded_amount, status)
                SELECT p.at, p.at, c.store_id, 'X' || c.id, c.id, p.at, 'store',
                       round((28 + (c.id * 7919) %% 52000 / 100.0)::numeric, 2), 0, '', 0,
                       'paid'
                FROM customers_customer c
                CROSS JOIN LATERAL (
                    SELECT c.joined_at + (c.id %% 200) * interval '1 day' AS at
                ) AS p
                WHERE c.id > %(last)s AND c.id %% 3 <> 0 AND c.store_id IS NOT NULL
                """,
                {"last": last_id},
            )
        ],
    )
    step(
        "consents",
        [
            (
                """
                INSERT INTO customers_consentrecord (customer_id, channel, purpose, granted, at,
                    source, evidence)
                SELECT id, 'email', 'service', true, joined_at, 'bench', ''
                FROM customers_customer WHERE id > %(last)s
                UNION ALL
                SELECT id, 'email', 'marketing', id %% 5 < 3, joined_at, 'bench', ''
                FROM customers_customer WHERE id > %(last)s
                UNION ALL
                SELECT id, 'sms', 'marketing', id %% 8 < 3, joined_at + interval '1 day',
                       'bench', ''
                FROM customers_customer WHERE id > %(last)s AND id %% 4 = 0
                """,
                {"last": last_id},
            )
        ],
    )
    tag_values = ", ".join(
        f"('{name}', 'secondary', '{label}', '{label}', '')" for name, label, _n in TAGS
    )
    every = ", ".join(f"('{name}', {n})" for name, _label, n in TAGS)
    step(
        "tags",
        [
            (
                "INSERT INTO customers_tag (name, color, label, label_en, label_zh_hans)"
                f" VALUES {tag_values} ON CONFLICT DO NOTHING",
                None,
            ),
            (
                f"""
                INSERT INTO customers_customer_tags (customer_id, tag_id)
                SELECT c.id, t.id
                FROM customers_customer c
                JOIN (VALUES {every}) AS e(name, n) ON c.id %% e.n = 0
                JOIN customers_tag t ON t.name = e.name
                ON CONFLICT DO NOTHING
                """,
                [],
            ),
        ],
    )
    step(
        "analyze",
        [
            (f"ANALYZE {table}", None)
            for table in (
                "customers_customer",
                "loyalty_loyaltyaccount",
                "loyalty_tier",
                "customers_order",
                "customers_consentrecord",
                "customers_tag",
                "customers_customer_tags",
            )
        ],
    )
    return timings


@contextmanager
def export_database(customers: int, *, log=print) -> Iterator[dict]:
    """The bench database's copy with ``customers`` customers (made or reused), Django's
    connection on it inside the block. Yields what was done (name, seeding timings)."""
    source = connection.settings_dict["NAME"]
    target = f"{source}_export"
    info: dict = {"database": target, "customers": customers}
    if _customers_in(target) == customers:
        info["reused"] = True
    else:
        log(f"  copying {source} to {target}...", flush=True)
        started = time.perf_counter()
        _copy_database(source, target)
        info["copy_seconds"] = round(time.perf_counter() - started, 1)
        log(f"  growing {target} to {customers:,} customers...", flush=True)
        with using_database(target):
            info["timings"] = _grow(customers, log=log)
    with using_database(target):
        yield info
