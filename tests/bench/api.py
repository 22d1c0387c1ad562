"""``POST /api/v1/orders/`` for returning members, one request after another, against its
physical reference: a bare psycopg transaction doing the same writes (the order, its line, the
points lot, the ledger row, the account's counters) and committing, measured in the same run.

The reference writes into scratch copies of the four tables (``CREATE TABLE … (LIKE …
INCLUDING ALL)``: the same columns, indexes and checks, no foreign keys or triggers) so that the
real ledger stays verifiable; its accounts are copies of the members' rows. Both sides commit
once per order with the server's usual ``synchronous_commit``.

Two rows for the application: without an ``Idempotency-Key`` (an order is idempotent by store
and external id, which is how tills retry), and with one (the key's row is claimed and committed
before the work and finished after it: two more commits).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import statistics
import time

import psycopg
from django.conf import settings
from django.db import connection, reset_queries
from django.test import Client
from django.test.utils import CaptureQueriesContext

from apps.accounts.services import api_key_create
from apps.customers.models import Customer, Store
from apps.loyalty.models import Badge
from config.celery import app as celery_app
from tests.bench.dataset import anchor
from tests.bench.loyalty import _configure_programme
from tests.bench.measure import result_row, skipped

# External ids of this run: a bench database kept with --reuse already holds the last run's.
RUN = f"{int(time.time()):x}"

SCRATCH = {
    "bench_api_order": "customers_order",
    "bench_api_orderline": "customers_orderline",
    "bench_api_lot": "loyalty_pointslot",
    "bench_api_tx": "loyalty_pointstransaction",
    "bench_api_account": "loyalty_loyaltyaccount",
}


def _bodies(n: int, seed: int, prefix: str) -> list[dict]:
    """``n`` order bodies of returning members (members who already have orders and points)."""
    members = list(
        Customer.objects.filter(loyalty_account__isnull=False, orders__isnull=False)
        .distinct()
        .order_by("id")
        .values_list("member_number", flat=True)[:n]
    )
    stores = list(Store.objects.order_by("code").values_list("code", flat=True))
    placed = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).isoformat()
    return [
        {
            "external_id": f"{prefix}-{seed}-{RUN}-{i:07d}",
            "member_number": members[i % len(members)],
            "store": stores[i % len(stores)],
            "placed_at": placed,
            "total": "128.00",
            "lines": [
                {
                    "sku": "TEA-TGY-100",
                    "name": "Tieguanyin",
                    "category": "Tea",
                    "quantity": 1,
                    "unit_price": "128.00",
                }
            ],
        }
        for i in range(n)
    ]


def _conninfo() -> str:
    db = settings.DATABASES["default"]
    return psycopg.conninfo.make_conninfo(
        dbname=db["NAME"],
        user=db.get("USER") or None,
        host=db.get("HOST") or None,
        port=db.get("PORT") or None,
        password=db.get("PASSWORD") or None,
    )


def _scratch_tables(account_ids: list[int]) -> None:
    with connection.cursor() as cursor:
        for target, source in SCRATCH.items():
            cursor.execute(f"DROP TABLE IF EXISTS {target}")
            cursor.execute(f"CREATE TABLE {target} (LIKE {source} INCLUDING ALL)")
        cursor.execute(
            "INSERT INTO bench_api_account SELECT * FROM loyalty_loyaltyaccount WHERE id = ANY(%s)",
            [account_ids],
        )
        cursor.execute("ANALYZE bench_api_account")


def _drop_scratch() -> None:
    with connection.cursor() as cursor:
        for target in SCRATCH:
            cursor.execute(f"DROP TABLE IF EXISTS {target}")


def _reference(orders: list[tuple[int, int, int]]) -> list[float]:
    """One bare transaction per order, on its own psycopg connection: the order, one line, the
    lot, the ledger row, the account's counters, commit. ``orders``: (store, customer, account)
    ids. Returns each transaction's seconds."""
    now = dt.datetime.now(dt.UTC)
    later = now + dt.timedelta(days=365)
    samples = []
    with psycopg.connect(_conninfo()) as conn:
        for i, (store_id, customer_id, account_id) in enumerate(orders):
            started = time.perf_counter()
            with conn.transaction():
                order_id = conn.execute(
                    "INSERT INTO bench_api_order (created_at, updated_at, store_id, external_id,"
                    " customer_id, placed_at, channel, total, discount, coupon_code,"
                    " refunded_amount, status) VALUES (%s, %s, %s, %s, %s, %s, 'store', 128, 0,"
                    " '', 0, 'completed') RETURNING id",
                    [now, now, store_id, f"REF-{i:07d}", customer_id, now],
                ).fetchone()[0]
                conn.execute(
                    "INSERT INTO bench_api_orderline (order_id, sku, name, category, quantity,"
                    " unit_price) VALUES (%s, 'TEA-TGY-100', 'Tieguanyin', 'Tea', 1, 128)",
                    [order_id],
                )
                lot_id = conn.execute(
                    "INSERT INTO bench_api_lot (account_id, points, remaining, status, earned_at,"
                    " available_at, expires_at, order_id) VALUES (%s, 128, 128, 'pending', %s,"
                    " %s, %s, %s) RETURNING id",
                    [account_id, now, later, later, order_id],
                ).fetchone()[0]
                conn.execute(
                    "INSERT INTO bench_api_tx (account_id, kind, points, pending_points,"
                    " balance_after, reason, order_id, lot_id, source_ref, detail,"
                    " idempotency_key, created_at, prev_hash, hash) VALUES (%s, 'pending', 0,"
                    " 128, 0, 'Base 128', %s, %s, '', '{}', %s, %s, %s, %s)",
                    [account_id, order_id, lot_id, f"order:{order_id}:earn", now, "0" * 64,
                     "f" * 64],
                )  # fmt: skip
                conn.execute(
                    "UPDATE bench_api_account SET pending = pending + 128,"
                    " lifetime_earned = lifetime_earned + 128, last_hash = %s, updated_at = %s"
                    " WHERE id = %s",
                    ["f" * 64, now, account_id],
                )
            samples.append(time.perf_counter() - started)
    return samples


def _post(client: Client, url: str, body: dict, key: str | None) -> tuple[float, int]:
    extra = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    started = time.perf_counter()
    response = client.post(url, data=json.dumps(body), content_type="application/json", **extra)
    return time.perf_counter() - started, response.status_code


def _ms(samples: list[float], q: float) -> float:
    return statistics.quantiles(samples, n=100)[round(q * 100) - 1] * 1000


@contextlib.contextmanager
def _tasks_queued():
    """Tasks queued on commit go to the broker, as in production (the test settings run them
    eagerly, which would put the outbox delivery inside the measured request): Redis at
    ``REDIS_URL`` when set, else Celery's in-memory transport. Nothing consumes them; they are
    purged afterwards."""
    conf = celery_app.conf
    saved = conf.task_always_eager, conf.broker_url
    conf.task_always_eager = False
    conf.broker_url = os.environ.get("REDIS_URL") or "memory://"
    try:
        yield
    finally:
        with contextlib.suppress(Exception):
            celery_app.control.purge()
        conf.task_always_eager, conf.broker_url = saved


def measure_api(scale: float, seed: int) -> list[dict]:
    with _tasks_queued():
        return _measure_api(scale, seed)


def _queries(client: Client, url: str, body: dict, key: str | None) -> list[str]:
    """The statements of one request outside any test transaction (as in production), without
    the transaction's BEGIN and COMMIT (the reference's are not counted either); after one
    request that reads the configuration again if it changed."""
    warm = {**body, "external_id": f"{body['external_id']}-W"}
    _post(client, url, warm, f"{key}-W" if key else None)
    with CaptureQueriesContext(connection) as ctx:
        _post(client, url, body, key)
    statements = [q["sql"] for q in ctx.captured_queries if q["sql"] not in ("BEGIN", "COMMIT")]
    reset_queries()
    return statements


def _run(client: Client, url: str, bodies: list[dict], keyed: str = "") -> tuple[list, int]:
    """Post ``bodies`` one after another: each request's seconds, and the non-201 answers."""
    samples, errors = [], 0
    for i, body in enumerate(bodies):
        elapsed, code = _post(client, url, body, f"{keyed}-{i}" if keyed else None)
        samples.append(elapsed)
        errors += code != 201
    return samples, errors


def _measure_api(scale: float, seed: int) -> list[dict]:
    label = "POST /api/v1/orders/, returning member"
    _key, raw = api_key_create(name="bench")
    client = Client(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    url = "/api/v1/orders/"
    n = max(100, round(500 * scale))
    # The demo's programme: tiers, earn rules, rewards, badges (as ``programme`` configures it).
    configured = _configure_programme(anchor())
    # One order per member first, so that the measured ones are returning members' (tier joined,
    # first-order badges won), as at a till on a normal day.
    for body in _bodies(n, seed, "API-WARM"):
        _elapsed, code = _post(client, url, body, None)
        if code != 201:
            return [skipped(label, f"answered {code}")]

    members = {b["member_number"] for b in _bodies(n, seed, "API")}
    accounts = dict(
        Customer.objects.filter(member_number__in=members).values_list(
            "member_number", "loyalty_account__id"
        )
    )
    ids = dict(
        Customer.objects.filter(member_number__in=members).values_list("member_number", "id")
    )
    stores = dict(Store.objects.values_list("code", "id"))
    _scratch_tables(list(accounts.values()))
    try:
        reference = _reference(
            [
                (stores[b["store"]], ids[b["member_number"]], accounts[b["member_number"]])
                for b in _bodies(n, seed, "REF")
            ]
        )
    finally:
        _drop_scratch()
    ref_ms = statistics.median(reference) * 1000

    def row(title: str, samples: list, errors: int, queries: list[str], detail: str) -> dict:
        return result_row(
            f"{label}{title} ({n} sequential, median)",
            value=statistics.median(samples) * 1000,
            unit="ms",
            reference=ref_ms,
            reference_label="bare psycopg transaction: order, line, lot, ledger row, account",
            queries=len(queries),
            reference_queries=5,
            p95_ms=round(_ms(samples, 0.95), 2),
            reference_p95_ms=round(_ms(reference, 0.95), 2),
            requests_per_second=round(n / sum(samples)),
            errors=errors,
            detail=f"{detail}; framework floor {floor_ms} ms",
            framework_floor_ms=floor_ms,
            framework_floor_errors=floor_errors,
            sql=[q[:120] for q in queries],
        )

    floor, floor_errors = _run(client, "/bench/order-floor/", _bodies(n, seed, "FLOOR"))
    floor_ms = round(statistics.median(floor) * 1000, 2)
    rules = f"demo tiers ({configured['tiers']}) and earn rules"
    out = []
    # One rule set: the programme's tiers and earn rules, no badge active.
    Badge.objects.update(is_active=False)
    try:
        queries = _queries(client, url, _bodies(1, seed, "API-COUNT")[0], None)
        samples, errors = _run(client, url, _bodies(n, seed, "API"))
        out.append(row("", samples, errors, queries, rules))
        queries = _queries(client, url, _bodies(1, seed, "API-COUNT-K")[0], f"count-{seed}")
        samples, errors = _run(client, url, _bodies(n, seed, "API-K"), keyed=f"bench-{seed}")
        out.append(row(", with Idempotency-Key", samples, errors, queries, rules))
    finally:
        Badge.objects.update(is_active=True)
    # And the demo's badges on top: each order asks which badges the member has reached.
    queries = _queries(client, url, _bodies(1, seed, "API-COUNT-B")[0], None)
    samples, errors = _run(client, url, _bodies(n, seed, "API-B"))
    out.append(
        row(", with badges", samples, errors, queries, f"{rules}, {configured['badges']} badges")
    )
    return out
