# ruff: noqa: T201 - a console script reports on stdout
"""The points ledger at scale: seeding and measurements.

Seeding (``seed_ledger``) writes set-based, not through the services: one loyalty account per
bench customer (entry tier), ``LOTS_PER_CUSTOMER`` lots per customer on average (1,000,000 at
scale 1), each with its ``earn`` ledger row, plus a share of recent pending lots with their
``pending`` rows. The ledger rows carry correct ``balance_after`` running sums and a valid hash
chain (``apps.loyalty.ledger.tx_hash``, one pass per account), and the accounts' counters and
``last_hash`` match, so ``verify_ledger`` passes on the seeded data. Lots and rows stream from
generators into ``COPY`` (queued writer: PostgreSQL parses while Python hashes). Ids are reserved
from the tables' sequences so each account's chain is in id order.

A share of the available lots (``expired_share``, default all) is already past expiry; the
pending lots are past their return window and not expired. The programme has its defaults
(rolling 24-month expiry, 14 pending days, no tiers, earn rules or badges), so the other groups'
figures (order import, API) stay comparable with earlier runs; the ``programme`` group, run last,
loads the demo configuration (four tiers, five earn rules, seven badges) and measures earning
again with tier upgrades and badge hooks doing real work.

Measurements, each next to a physical reference in the same run:

- ``verify_ledger`` vs the bare reads it needs (sums by account, lot sums, accounts, every row);
- ``points_mature_due`` and ``points_expire_due`` vs set-based SQL doing the same writes without
  the hash chain on scratch copies of the lot and account tables (ledger rows into an empty copy
  of the ledger table with the same indexes and the foreign keys the rows fill in, checked at
  commit like the real ones; the append-only trigger fires on UPDATE and DELETE only);
- ``orders_earn_bulk`` over existing orders (``EARN_ORDERS_AT_SCALE_1``, then runs
  ``EXTRA_EARN_SIZES`` times as large over the next orders) vs ``COPY`` of exactly the rows it
  wrote (lots, ledger rows, tier history, badges, outbox rows) into empty copies of the tables
  plus the same account updates (``COPY`` into a temporary table, ``UPDATE … FROM``);
- the ``programme`` group: ``PROGRAMME_ORDERS_AT_SCALE_1`` orders with the plain programme, then
  as many with the demo programme's first run (tiers, badges, referrals), and the ratio of the
  two.
"""

from __future__ import annotations

import array
import cProfile
import datetime as dt
import io
import pstats
import random
import re
import time
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.utils import timezone
from psycopg.copy import QueuedLibpqWriter

from apps.customers.models import Order
from apps.loyalty import ledger
from apps.loyalty.enums import LotStatus, TxKind
from apps.loyalty.models import (
    PointsLot,
    Programme,
    Tier,
)

LOTS_PER_CUSTOMER = 10
EARN_ORDERS_AT_SCALE_1 = 100_000
# Further bulk-earning runs, as multiples of EARN_ORDERS_AT_SCALE_1 (the rate at two sizes).
EXTRA_EARN_SIZES = (2,)
PROGRAMME_ORDERS_AT_SCALE_1 = 20_000
SEED_REASON = "Bench seed"
PLACEHOLDER_HASH = "0" * 64

LOT_COLUMNS = [
    "id", "account_id", "points", "remaining", "status", "earned_at", "available_at",
    "expires_at",
]  # fmt: skip
TX_COLUMNS = [
    "id", "account_id", "kind", "points", "pending_points", "balance_after", "reason", "lot_id",
    "source_ref", "idempotency_key", "created_at", "prev_hash", "hash",
]  # fmt: skip


# --- seeding --------------------------------------------------------------------------------


def _configure_programme(at: dt.datetime) -> dict[str, int]:
    """The demo's programme, tiers, earn rules, rewards and badges (fixtures/loyalty_demo.json)."""
    from apps.loyalty.demo import _reference

    return _reference(at)


def _reserve_ids(cursor, table: str, n: int) -> int:
    """Take ``n`` consecutive ids from the table's sequence; returns the first."""
    cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
    sequence = cursor.fetchone()[0]
    cursor.execute("SELECT setval(%s, nextval(%s) + %s - 1)", [sequence, sequence, n])
    return cursor.fetchone()[0] - n + 1


class _Plan:
    """Every seeded lot in chain order (account, then earned time), in compact arrays."""

    def __init__(self) -> None:
        self.account = array.array("q")
        self.points = array.array("l")
        self.earned = array.array("q")  # epoch seconds
        self.pending = array.array("b")

    def __len__(self) -> int:
        return len(self.account)

    def add(self, account_id: int, points: int, earned: int, pending: bool) -> None:
        self.account.append(account_id)
        self.points.append(points)
        self.earned.append(earned)
        self.pending.append(1 if pending else 0)


def _plan(
    account_ids: list[int],
    *,
    seed: int,
    at: dt.datetime,
    expired_share: float,
    pending_share: float,
) -> _Plan:
    rng = random.Random(seed)
    now = int(at.timestamp())
    day = 86400
    pending_per_account = min(1.0, pending_share * LOTS_PER_CUSTOMER)
    plan = _Plan()
    for account_id in account_ids:
        earned = []
        for _ in range(rng.randint(0, 2 * LOTS_PER_CUSTOMER)):
            # Expired: earned over 745 days ago, so 24 months on is at least a week past.
            # Live: earned within 700 days, so expiry is at least a month away.
            days = rng.uniform(745, 1100) if rng.random() < expired_share else rng.uniform(1, 700)
            earned.append(now - int(days * day))
        for moment in sorted(earned):
            plan.add(account_id, rng.randint(20, 600), moment, False)
        if rng.random() < pending_per_account:
            # Earned 15-28 days ago: the 14-day return window has passed, expiry is far away.
            plan.add(account_id, rng.randint(20, 600), now - int(rng.uniform(15, 28) * day), True)
    return plan


def _utc(seconds: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, dt.UTC)


def _lot_rows(plan: _Plan, first_id: int, programme: Programme) -> Iterator[tuple]:
    window = dt.timedelta(days=programme.pending_days)
    expiry_for = ledger.expiry_for
    for i in range(len(plan)):
        earned_at = _utc(plan.earned[i])
        points = plan.points[i]
        yield (
            first_id + i,
            plan.account[i],
            points,
            points,
            LotStatus.PENDING.value if plan.pending[i] else LotStatus.AVAILABLE.value,
            earned_at,
            earned_at + window,
            expiry_for(earned_at=earned_at, programme=programme),
        )


def _tx_rows(plan: _Plan, first_lot: int, first_tx: int, totals: list[tuple]) -> Iterator[tuple]:
    """Ledger rows in chain order; appends each account's final counters to ``totals``."""
    tx_hash = ledger.tx_hash
    earn, pending_kind = TxKind.EARN.value, TxKind.PENDING.value
    current = None
    balance = pending = lifetime = 0
    prev = ledger.GENESIS
    for i in range(len(plan)):
        account_id = plan.account[i]
        if account_id != current:
            if current is not None:
                totals.append((current, balance, pending, lifetime, prev))
            current, balance, pending, lifetime, prev = account_id, 0, 0, 0, ledger.GENESIS
        points = plan.points[i]
        if plan.pending[i]:
            kind, spendable, held = pending_kind, 0, points
            pending += points
        else:
            kind, spendable, held = earn, points, 0
            balance += points
        lifetime += points
        lot_id = first_lot + i
        key = f"bench:lot:{lot_id}:earn"
        created_at = _utc(plan.earned[i])
        digest = tx_hash(
            prev_hash=prev,
            account_id=account_id,
            kind=kind,
            points=spendable,
            pending_points=held,
            balance_after=balance,
            idempotency_key=key,
            created_at=created_at,
        )
        yield (
            first_tx + i, account_id, kind, spendable, held, balance, SEED_REASON, lot_id, "",
            key, created_at, prev, digest,
        )  # fmt: skip
        prev = digest
    if current is not None:
        totals.append((current, balance, pending, lifetime, prev))


def _copy(cursor, table: str, columns: list[str], rows) -> None:
    sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
    with cursor.copy(sql, writer=QueuedLibpqWriter(cursor)) as copy:
        for row in rows:
            copy.write_row(row)


def seed_ledger(
    *,
    scale: float,
    seed: int = 42,
    expired_share: float = 1.0,
    pending_share: float = 0.05,
    at: dt.datetime | None = None,
    log=print,
) -> dict:
    """Accounts, lots and a valid chained ledger for every bench customer (see module doc)."""
    from tests.bench.dataset import anchor

    at = at or anchor()
    timings: dict[str, float] = {}
    started = time.perf_counter()
    programme = Programme.get()
    entry = Tier.objects.filter(threshold=0).order_by("rank").first()
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO loyalty_loyaltyaccount (created_at, updated_at, customer_id, balance,
                pending, lifetime_earned, debt, tier_id, tier_since, tier_review_at, last_hash)
            SELECT c.joined_at, c.joined_at, c.id, 0, 0, 0, 0, %s, c.joined_at, NULL, ''
            FROM customers_customer c
            WHERE NOT EXISTS (SELECT 1 FROM loyalty_loyaltyaccount a WHERE a.customer_id = c.id)
            ORDER BY c.id
            """,
            [entry.pk if entry else None],
        )
        cursor.execute("SELECT id FROM loyalty_loyaltyaccount ORDER BY id")
        account_ids = [r[0] for r in cursor.fetchall()]
    timings["accounts (INSERT SELECT)"] = time.perf_counter() - started

    started = time.perf_counter()
    plan = _plan(
        account_ids, seed=seed, at=at, expired_share=expired_share, pending_share=pending_share
    )
    n = len(plan)
    timings["plan"] = time.perf_counter() - started
    totals: list[tuple] = []
    with connection.cursor() as wrapper:
        cursor = wrapper.cursor
        first_lot = _reserve_ids(cursor, "loyalty_pointslot", n)
        first_tx = _reserve_ids(cursor, "loyalty_pointstransaction", n)
        started = time.perf_counter()
        _copy(cursor, "loyalty_pointslot", LOT_COLUMNS, _lot_rows(plan, first_lot, programme))
        timings["lots (COPY)"] = time.perf_counter() - started
        log(f"  {n:,} lots in {timings['lots (COPY)']:.1f} s")
        started = time.perf_counter()
        _copy(
            cursor,
            "loyalty_pointstransaction",
            TX_COLUMNS,
            _tx_rows(plan, first_lot, first_tx, totals),
        )
        timings["ledger rows (hash chain + COPY)"] = time.perf_counter() - started
        log(f"  {n:,} chained ledger rows in {timings['ledger rows (hash chain + COPY)']:.1f} s")
        started = time.perf_counter()
        cursor.execute(
            "CREATE TEMP TABLE bench_account_totals (id bigint PRIMARY KEY, balance integer, "
            "pending integer, lifetime integer, last_hash varchar(64))"
        )
        _copy(
            cursor, "bench_account_totals", ["id", "balance", "pending", "lifetime", "last_hash"],
            totals,
        )  # fmt: skip
        cursor.execute(
            """
            UPDATE loyalty_loyaltyaccount a
            SET balance = t.balance, pending = t.pending, lifetime_earned = t.lifetime,
                last_hash = t.last_hash
            FROM bench_account_totals t WHERE t.id = a.id
            """
        )
        cursor.execute("DROP TABLE bench_account_totals")
        cursor.execute(
            "ANALYZE loyalty_loyaltyaccount, loyalty_pointslot, loyalty_pointstransaction"
        )
        timings["account counters + analyze"] = time.perf_counter() - started
        cursor.execute(
            "SELECT count(*) FILTER (WHERE status = 'available' AND expires_at <= %s), "
            "count(*) FILTER (WHERE status = 'pending' AND available_at <= %s) "
            "FROM loyalty_pointslot",
            [at, at],
        )
        expired, pending = cursor.fetchone()
    log(f"  accounts, counters, analyze in {timings['account counters + analyze']:.1f} s")
    return {
        "accounts": len(account_ids),
        "lots": n,
        "ledger_rows": n,
        "lots_past_expiry": expired,
        "lots_pending_due": pending,
        "expired_share": expired_share,
        "pending_share": pending_share,
        "programme": {
            "expiry_policy": programme.expiry_policy,
            "expiry_months": programme.expiry_months,
            "pending_days": programme.pending_days,
        },
        "timings": timings,
    }


# --- measurements ---------------------------------------------------------------------------


def _verify_command() -> int:
    """``manage.py verify_ledger``; returns the number of faults it reported."""
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("verify_ledger", stdout=out, stderr=err)
    except CommandError as exc:
        found = re.match(r"(\d+)", str(exc))
        return int(found.group(1)) if found else max(1, len(err.getvalue().splitlines()))
    return 0


def _verify_reference() -> int:
    """The reads ``verify_ledger`` cannot avoid: sums by account, lot sums, the accounts, and
    every ledger row in chain order through a server-side cursor."""
    connection.ensure_connection()
    rows = 0
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT account_id, sum(points), sum(pending_points) "
                "FROM loyalty_pointstransaction GROUP BY account_id"
            )
            cursor.fetchall()
            cursor.execute(
                "SELECT account_id, status, sum(remaining) FROM loyalty_pointslot "
                "GROUP BY account_id, status"
            )
            cursor.fetchall()
            cursor.execute("SELECT * FROM loyalty_loyaltyaccount ORDER BY id")
            cursor.fetchall()
        with connection.connection.cursor(name="bench_verify") as named:
            named.itersize = 2000
            named.execute(
                "SELECT id, account_id, kind, points, pending_points, balance_after, "
                "idempotency_key, created_at, prev_hash, hash FROM loyalty_pointstransaction "
                "ORDER BY account_id, id"
            )
            for _row in named:
                rows += 1
    return rows


def measure_verify(label: str) -> list[dict]:
    from tests.bench.measure import once, result_row

    reference, rows = once(_verify_reference)
    value, faults = once(_verify_command)
    return [
        result_row(
            f"{label}, {rows:,} ledger rows",
            value=value,
            unit="s",
            reference=reference,
            reference_label="bare sums + read every row",
            faults=faults,
            detail=f"{faults} faults; {rows / value:,.0f} rows/s",
        )
    ]


def _scratch(cursor, source: str, target: str, *, copy_rows: bool) -> None:
    cursor.execute(f"DROP TABLE IF EXISTS {target}")
    cursor.execute(f"CREATE TABLE {target} (LIKE {source} INCLUDING ALL)")
    if copy_rows:
        cursor.execute(f"INSERT INTO {target} SELECT * FROM {source}")
    cursor.execute(f"ANALYZE {target}")


def _drop(*tables: str) -> None:
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"DROP TABLE IF EXISTS {table}")


# The ledger copy first: its foreign keys point at the other two.
REF_TABLES = ("bench_ref_ledger", "bench_ref_lots", "bench_ref_accounts")


def _reference_tables() -> None:
    """Scratch copies of the lots and accounts as they are now, and an empty ledger copy with
    the ledger's indexes and the foreign keys the jobs' rows fill in (account, lot, order;
    deferred to commit, as Django declares them): a row the job writes pays those checks at
    commit, so the reference pays them too (without them it skipped a third of the work)."""
    _drop(*REF_TABLES)  # what a crashed run left
    with connection.cursor() as cursor:
        _scratch(cursor, "loyalty_pointslot", "bench_ref_lots", copy_rows=True)
        _scratch(cursor, "loyalty_loyaltyaccount", "bench_ref_accounts", copy_rows=True)
        _scratch(cursor, "loyalty_pointstransaction", "bench_ref_ledger", copy_rows=False)
        cursor.execute(
            """
            ALTER TABLE bench_ref_ledger
            ADD FOREIGN KEY (account_id) REFERENCES bench_ref_accounts (id)
                DEFERRABLE INITIALLY DEFERRED,
            ADD FOREIGN KEY (lot_id) REFERENCES bench_ref_lots (id) DEFERRABLE INITIALLY DEFERRED,
            ADD FOREIGN KEY (order_id) REFERENCES customers_order (id)
                DEFERRABLE INITIALLY DEFERRED
            """
        )


REF_INSERT = (
    "INSERT INTO bench_ref_ledger (account_id, kind, points, pending_points, balance_after, "
    "reason, lot_id, order_id, source_ref, idempotency_key, created_at, prev_hash, hash) "
)


def _mature_reference(as_of: dt.datetime) -> int:
    """Pending lots past their window become available, without the hash chain."""
    due = "l.status = 'pending' AND l.remaining > 0 AND l.available_at <= %(as_of)s"
    params = {"as_of": as_of, "h": PLACEHOLDER_HASH}
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            REF_INSERT
            + f"""
            SELECT l.account_id, 'mature', l.remaining, -l.remaining,
                   a.balance + sum(l.remaining) OVER (PARTITION BY l.account_id
                                                      ORDER BY l.available_at, l.id),
                   'Return window passed', l.id, l.order_id, '',
                   'lot:' || l.id || ':mature', %(as_of)s, %(h)s, %(h)s
            FROM bench_ref_lots l JOIN bench_ref_accounts a ON a.id = l.account_id
            WHERE {due}
            """,
            params,
        )
        cursor.execute(
            f"""
            UPDATE bench_ref_accounts a
            SET balance = a.balance + d.s, pending = a.pending - d.s, last_hash = %(h)s,
                updated_at = %(as_of)s
            FROM (SELECT l.account_id, sum(l.remaining) AS s FROM bench_ref_lots l
                  WHERE {due} GROUP BY l.account_id) d
            WHERE a.id = d.account_id
            """,
            params,
        )
        cursor.execute(f"UPDATE bench_ref_lots l SET status = 'available' WHERE {due}", params)
        return cursor.rowcount


def _expire_reference(as_of: dt.datetime) -> int:
    """Available lots past expiry lose what remains, without the hash chain."""
    due = "l.status = 'available' AND l.remaining > 0 AND l.expires_at <= %(as_of)s"
    params = {"as_of": as_of, "h": PLACEHOLDER_HASH}
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            REF_INSERT
            + f"""
            SELECT l.account_id, 'expire', -l.remaining, 0,
                   a.balance - sum(l.remaining) OVER (PARTITION BY l.account_id
                                                      ORDER BY l.expires_at, l.id),
                   'Points expired', l.id, NULL, '',
                   'lot:' || l.id || ':expire', %(as_of)s, %(h)s, %(h)s
            FROM bench_ref_lots l JOIN bench_ref_accounts a ON a.id = l.account_id
            WHERE {due}
            """,
            params,
        )
        cursor.execute(
            f"""
            UPDATE bench_ref_accounts a
            SET balance = a.balance - d.s, last_hash = %(h)s, updated_at = %(as_of)s
            FROM (SELECT l.account_id, sum(l.remaining) AS s FROM bench_ref_lots l
                  WHERE {due} GROUP BY l.account_id) d
            WHERE a.id = d.account_id
            """,
            params,
        )
        cursor.execute(
            f"UPDATE bench_ref_lots l SET status = 'expired', remaining = 0 WHERE {due}", params
        )
        return cursor.rowcount


def _profiled(fn, name: str):
    """Run ``fn`` under cProfile; keep the stats and the top of the report in var/bench/."""
    profiler = cProfile.Profile()
    result = profiler.runcall(fn)
    out = Path(settings.VAR_DIR) / "bench"
    out.mkdir(parents=True, exist_ok=True)
    profiler.dump_stats(out / f"{name}.prof")
    text = io.StringIO()
    stats = pstats.Stats(profiler, stream=text).strip_dirs()
    stats.sort_stats("cumulative").print_stats(40)
    stats.sort_stats("tottime").print_stats(30)
    (out / f"{name}.txt").write_text(text.getvalue(), encoding="utf-8")
    print(f"  profile written to {out / name}.txt / .prof")
    return result


def _job_row(label, *, value, reference, lots, ref_lots, ref_label, profiled=False) -> dict:
    from tests.bench.measure import result_row

    return result_row(
        f"{label}, {lots:,} lots",
        value=value,
        unit="s",
        reference=reference,
        reference_label=ref_label,
        lots=lots,
        reference_lots=ref_lots,
        lots_per_second=round(lots / value) if value else None,
        reference_lots_per_second=round(ref_lots / reference) if reference else None,
        profiled=profiled,
        detail=(
            f"{lots / value:,.0f} lots/s (ref {ref_lots / reference:,.0f}/s)"
            + ("; under cProfile" if profiled else "")
        ),
    )


def measure_jobs(*, profile: bool = False) -> list[dict]:
    from apps.loyalty.services.jobs import points_expire_due, points_mature_due
    from tests.bench.measure import once, skipped

    rows = []
    print("  copying lots and accounts for the references...", flush=True)
    _reference_tables()
    try:
        as_of = timezone.now()
        ref_s, ref_lots = once(lambda: _mature_reference(as_of))
        value, lots = once(lambda: points_mature_due(as_of=as_of))
        label = "points_mature_due"
        if lots:
            rows.append(
                _job_row(
                    label,
                    value=value,
                    reference=ref_s,
                    lots=lots,
                    ref_lots=ref_lots,
                    ref_label="INSERT ... SELECT + UPDATE lots, accounts",
                )
            )
        else:
            rows.append(skipped(label, "no pending lots due (reused database?)"))
        print(f"  matured {lots:,} lots in {value:.1f} s (reference {ref_s:.1f} s)", flush=True)

        as_of = timezone.now()
        ref_s, ref_lots = once(lambda: _expire_reference(as_of))

        def job():
            return points_expire_due(as_of=as_of)

        value, lots = once((lambda: _profiled(job, "points_expire_due")) if profile else job)
        label = "points_expire_due"
        if lots:
            rows.append(
                _job_row(
                    label,
                    value=value,
                    reference=ref_s,
                    lots=lots,
                    ref_lots=ref_lots,
                    ref_label="INSERT ... SELECT + UPDATE lots, accounts",
                    profiled=profile,
                )
            )
        else:
            rows.append(skipped(label, "no lots due (reused database?)"))
        print(f"  expired {lots:,} lots in {value:.1f} s (reference {ref_s:.1f} s)", flush=True)
    finally:
        _drop(*REF_TABLES)
    return rows


# Tables an earning run inserts into (its reference COPYs the same rows into empty copies).
EARN_TABLES = (
    "loyalty_pointslot",
    "loyalty_pointstransaction",
    "loyalty_tierhistory",
    "loyalty_customerbadge",
)
ACCOUNT_UPDATE_COLUMNS = [
    "id", "balance", "pending", "lifetime_earned", "debt", "last_hash", "tier_id", "tier_since",
    "tier_review_at", "updated_at",
]  # fmt: skip


def _high_water(tables: tuple[str, ...] = EARN_TABLES) -> dict[str, int]:
    """The highest id of each of ``tables`` now (rows above it are the run's)."""
    with connection.cursor() as cursor:
        marks = {}
        for table in tables:
            cursor.execute(f"SELECT coalesce(max(id), 0) FROM {table}")
            marks[table] = cursor.fetchone()[0]
    return marks


def _written_rows(marks: dict[str, int], since: dt.datetime) -> dict[str, tuple[list, list]]:
    """{table: (columns, rows)} of every row the run inserted (ids above ``marks``, outbox rows
    since ``since``), and the accounts it updated (``bench:accounts``), as plain tuples."""
    out = {}
    with connection.cursor() as cursor:
        for table in marks:
            cursor.execute(f"SELECT * FROM {table} WHERE id > %s ORDER BY id", [marks[table]])
            columns = [c.name for c in cursor.description]
            out[table] = (columns, cursor.fetchall())
        cursor.execute(
            "SELECT id, name, payload::text, created_at, delivered_at, done::text, attempts, "
            "last_error FROM core_outboxevent WHERE created_at >= %s",
            [since],
        )
        out["core_outboxevent"] = ([c.name for c in cursor.description], cursor.fetchall())
        cursor.execute(
            f"SELECT {', '.join(ACCOUNT_UPDATE_COLUMNS)} FROM loyalty_loyaltyaccount "
            "WHERE updated_at >= %s",
            [since],
        )
        out["bench:accounts"] = (ACCOUNT_UPDATE_COLUMNS, cursor.fetchall())
    return out


def _copy_reference(written: dict[str, tuple[list, list]]) -> tuple[float, int]:
    """Time ``COPY`` of the same rows into empty copies of the tables (same indexes, no
    foreign keys or triggers) and the same account updates (``COPY`` into a temporary table,
    one ``UPDATE … FROM`` a copy of the accounts). Returns (seconds, rows)."""
    from tests.bench.measure import once

    tables = [t for t in written if not t.startswith("bench:")]
    with connection.cursor() as wrapper:
        for table in tables:
            _scratch(wrapper, table, f"bench_ref_{table}", copy_rows=False)
        _scratch(wrapper, "loyalty_loyaltyaccount", "bench_ref_accounts_earn", copy_rows=True)

    def reference() -> None:
        with transaction.atomic(), connection.cursor() as wrapper:
            cursor = wrapper.cursor
            for table in tables:
                columns, rows = written[table]
                _copy(cursor, f"bench_ref_{table}", columns, rows)
            columns, rows = written["bench:accounts"]
            cursor.execute(
                "CREATE TEMP TABLE bench_ref_account_updates ON COMMIT DROP AS "
                f"SELECT {', '.join(columns)} FROM loyalty_loyaltyaccount WITH NO DATA"
            )
            _copy(cursor, "bench_ref_account_updates", columns, rows)
            sets = ", ".join(f"{c} = u.{c}" for c in columns if c != "id")
            cursor.execute(
                f"UPDATE bench_ref_accounts_earn a SET {sets} "
                "FROM bench_ref_account_updates u WHERE a.id = u.id"
            )

    try:
        seconds, _ = once(reference)
    finally:
        _drop(*(f"bench_ref_{t}" for t in tables), "bench_ref_accounts_earn")
    return seconds, sum(len(rows) for _columns, rows in written.values())


def _earn_once(order_ids: list[int]) -> tuple[float, int]:
    """Run ``orders_earn_bulk``; the outbox rows it writes (``tier.changed``) are delivered by
    the worker after commit in production, not in the run (the ``events`` group measures
    delivery), so their delivery is left out here."""
    from apps.core import events
    from apps.loyalty.services.earning_bulk import orders_earn_bulk
    from tests.bench.measure import once

    with mock.patch.object(events.outbox_deliver, "delay"):
        return once(lambda: orders_earn_bulk(order_ids=order_ids))


def _order_ids(n: int, offset: int) -> list[int]:
    return list(
        Order.objects.filter(customer__isnull=False)
        .order_by("id")
        .values_list("id", flat=True)[offset : offset + n]
    )


def measure_earn(*, n: int, offset: int = 0, label: str = "orders_earn_bulk") -> list[dict]:
    """Earn for ``n`` existing orders (by id, after the first ``offset``), which spread over
    random customers; against ``COPY`` of every row it wrote (lots, ledger rows, tier history,
    badges, outbox rows) and the same account updates."""
    from tests.bench.measure import result_row, skipped

    label = f"{label}, {n:,} existing orders"
    order_ids = _order_ids(n, offset)
    marks, since = _high_water(), timezone.now()
    value, earned = _earn_once(order_ids)
    if not earned:
        return [skipped(label, "no order earned (already earned in a reused database?)")]
    written = _written_rows(marks, since)
    counts = {table: len(rows) for table, (_c, rows) in written.items()}
    ref_s, rows = _copy_reference(written)
    return [
        result_row(
            label,
            value=value,
            unit="s",
            reference=ref_s,
            reference_label=(
                f"COPY the same {rows:,} rows (lots, ledger, tier history, badges, outbox) "
                "+ UPDATE accounts"
            ),
            earned=earned,
            rows_written=counts,
            ledger_rows_written=counts["loyalty_pointstransaction"],
            tier_moves=counts["loyalty_tierhistory"],
            badges_awarded=counts["loyalty_customerbadge"],
            accounts_touched=counts["bench:accounts"],
            orders_per_second=round(earned / value),
            rows_per_second=round(rows / value),
            reference_rows_per_second=round(rows / ref_s) if ref_s else None,
            detail=(
                f"{earned / value:,.0f} orders/s, {rows / value:,.0f} rows/s (COPY "
                f"{rows / ref_s:,.0f} rows/s); {counts['bench:accounts']:,} accounts, "
                f"{counts['loyalty_pointstransaction']:,} ledger rows, "
                f"{counts['loyalty_tierhistory']:,} tier moves, "
                f"{counts['loyalty_customerbadge']:,} badges"
            ),
        )
    ]


def run_all(*, scale: float, profile: bool = False) -> list[dict]:
    from tests.bench.measure import _guarded

    if not PointsLot.objects.exists():
        from tests.bench.measure import skipped

        return [skipped("loyalty", "no seeded ledger")]
    results: list[dict] = []
    results += _guarded("verify_ledger (seeded)", lambda: measure_verify("verify_ledger, seeded"))
    results += _guarded("loyalty jobs", lambda: measure_jobs(profile=profile))
    n = max(1000, round(EARN_ORDERS_AT_SCALE_1 * scale))
    results += _guarded("orders_earn_bulk", lambda: measure_earn(n=n))
    # Larger runs after it, over orders it did not touch: the rate must hold as the run grows.
    offset = n
    for factor in EXTRA_EARN_SIZES:
        size, start = n * factor, offset
        results += _guarded(
            f"orders_earn_bulk x{factor}",
            lambda size=size, start=start: measure_earn(n=size, offset=start),
        )
        offset += size
    results += _guarded(
        "verify_ledger (after jobs)", lambda: measure_verify("verify_ledger, after the jobs")
    )
    return results


def run_programme(*, scale: float, at: dt.datetime | None = None) -> list[dict]:
    """Last group: bulk earning for ``PROGRAMME_ORDERS_AT_SCALE_1`` orders with the seeded plain
    programme (no tiers, rules or badges), then the demo programme's tiers, earn rules and
    badges, and earning again for as many other orders the ``loyalty`` group did not touch.
    Every member starts in no tier and holds no badge, so this is the catch-up an existing
    customer base goes through on the programme's first run over its history: tier upgrades
    (with entry gifts), badge awards (with bonuses) and referral rewards. The third row compares
    the two runs (target: the programme's first run within 1.5x plain bulk earning)."""
    from tests.bench.dataset import anchor
    from tests.bench.measure import _guarded, result_row

    n = max(200, round(PROGRAMME_ORDERS_AT_SCALE_1 * scale))
    offset = max(1000, round(EARN_ORDERS_AT_SCALE_1 * scale)) * (1 + sum(EXTRA_EARN_SIZES))
    rows = _guarded(
        "orders_earn_bulk (plain programme)",
        lambda: measure_earn(n=n, offset=offset, label="orders_earn_bulk, plain programme"),
    )
    configured = _configure_programme(at or anchor())
    label = (
        f"orders_earn_bulk, demo programme ({configured['tiers']} tiers, "
        f"{configured['badges']} badges), first run"
    )
    rows += _guarded(
        "orders_earn_bulk (demo programme)",
        lambda: measure_earn(n=n, offset=offset + n, label=label),
    )
    plain, demo = (r for r in rows[-2:])
    if plain.get("value") and demo.get("value"):
        rows.append(
            result_row(
                f"badge programme first run vs plain bulk earning, {n:,} orders each",
                value=demo["value"],
                unit="s",
                reference=plain["value"],
                reference_label="orders_earn_bulk, plain programme, as many other orders",
                detail=(
                    f"{demo['orders_per_second']:,} vs {plain['orders_per_second']:,} orders/s"
                ),
            )
        )
    return rows
