# ruff: noqa: T201 - a console script reports on stdout
"""The measurements: each application path next to its physical reference, in the same run."""

from __future__ import annotations

import csv
import datetime as dt
import statistics
import time
import traceback
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import connection, transaction
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import NoReverseMatch, reverse

from apps.accounts import roles
from apps.accounts.models import User
from apps.customers.models import Customer, Store
from apps.customers.selectors import customer_list
from tests.customers.factories import CustomerFactory
from tests.dashboard.customer_history import KINDS, grow_history, history_size

BENCH_URLCONF = "tests.bench.urls"
PAGE_SIZE = 25


def median_seconds(fn: Callable[[], object], runs: int, *, warmup: int = 1) -> float:
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def once(fn: Callable[[], object]) -> tuple[float, object]:
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


def result_row(
    operation: str,
    *,
    value: float | None,
    unit: str,
    reference: float | None,
    reference_label: str,
    higher_is_better: bool = False,
    **extra,
) -> dict:
    ratio = None
    if value and reference:
        ratio = (reference / value) if higher_is_better else (value / reference)
    return {
        "operation": operation,
        "value": value,
        "unit": unit,
        "reference": reference,
        "reference_label": reference_label,
        "ratio": round(ratio, 2) if ratio is not None else None,
        **extra,
    }


def skipped(operation: str, reason: str) -> dict:
    return {"operation": operation, "skipped": True, "note": reason}


def _url(name: str, **kwargs) -> str | None:
    try:
        return reverse(name, kwargs=kwargs or None)
    except NoReverseMatch:
        return None


# --- search ---------------------------------------------------------------------------------


def _samples() -> dict[str, str]:
    """Search terms taken from the data: one of each kind a person types at the counter."""
    base = Customer.objects.order_by("id")
    middle = base[base.count() // 2]
    western = base.filter(last_name__regex=r"^[A-Za-z]+$").first()
    chinese = base.exclude(last_name__regex=r"^[A-Za-z]").first()
    return {
        "name (latin)": western.last_name.lower(),
        "name (chinese)": f"{chinese.last_name}{chinese.first_name}",
        "phone fragment": middle.phone[5:12],
        "member number": middle.member_number,
        "e-mail fragment": middle.email.split("@")[0],
    }


def measure_search(runs: int) -> list[dict]:
    rows = []
    for label, term in _samples().items():

        def app(term=term):
            qs = customer_list(query=term)
            page = list(qs[:PAGE_SIZE])
            return len(page), qs.count()

        pattern = f"%{term.lower()}%"

        def bare(pattern=pattern):
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT id, member_number, first_name, last_name, email, phone "
                    "FROM customers_customer WHERE search_text LIKE %s "
                    "ORDER BY joined_at DESC, id DESC LIMIT 25",
                    [pattern],
                )
                page = cursor.fetchall()
                cursor.execute(
                    "SELECT count(*) FROM customers_customer WHERE search_text LIKE %s", [pattern]
                )
                return len(page), cursor.fetchone()[0]

        found = app()
        rows.append(
            result_row(
                f"search: {label} ({term!r})",
                value=median_seconds(app, runs) * 1000,
                unit="ms",
                reference=median_seconds(bare, runs) * 1000,
                reference_label="SELECT ... LIKE LIMIT 25 + count(*)",
                matches=found[1],
                reference_matches=bare()[1],
            )
        )
    return rows


# --- pages ----------------------------------------------------------------------------------


def _manager() -> User:
    user, _created = User.objects.get_or_create(
        email="bench-manager@example.com", defaults={"is_staff": True, "full_name": "Bench"}
    )
    user.groups.add(Group.objects.get(name=roles.MANAGER))
    return user


def _page(client: Client, url: str, runs: int) -> tuple[float, int, int]:
    response = client.get(url)
    if response.status_code != 200:
        return 0.0, 0, response.status_code
    with CaptureQueriesContext(connection) as ctx:
        client.get(url)
    # Read now: captured_queries is a live view of a log the next request resets.
    queries = len(ctx.captured_queries)
    latency = median_seconds(lambda: client.get(url), runs, warmup=0)
    return latency * 1000, queries, 200


LONG_HISTORY_EMAIL = "bench-long-history@example.com"
LONG_HISTORY_STEP = 60  # rows of each kind: more than any panel of the 360 page shows


def _long_history_customer() -> Customer:
    """One member with a long history of every kind the 360 page shows (orders, ledger rows,
    redemptions, complaints, survey responses, campaign messages, interactions, consents, tags),
    made once per bench database through the same builder as the query-budget test."""
    customer = Customer.objects.filter(email=LONG_HISTORY_EMAIL).first()
    if customer is not None:
        return customer
    with transaction.atomic():  # all of it or nothing: a half-made history is not reused
        customer = CustomerFactory(email=LONG_HISTORY_EMAIL, store=Store.objects.order_by("id")[0])
        # No tier changes: tiers made here would change what every later group earns.
        grow_history(
            customer,
            n=LONG_HISTORY_STEP,
            start=0,
            staff=_manager(),
            store=customer.store,
            tiers=False,
        )
    return customer


def _history_label(customer: Customer) -> str:
    size = history_size(customer)
    return ", ".join(f"{size[kind]:,} {kind}" for kind in KINDS if size[kind])


def measure_pages(client: Client, runs: int) -> list[dict]:
    rows = []
    noop_ms, noop_queries, _status = _page(client, "/bench/noop/", runs)
    busiest = (
        Customer.objects.filter(orders__isnull=False).order_by("id").values("member_number").first()
    )
    middle = Customer.objects.order_by("id")[Customer.objects.count() // 2]
    regular = Customer.objects.get(member_number=busiest["member_number"])
    long_history = _long_history_customer()
    pages = [
        ("customer list page", "dashboard:customer-list", {}, ""),
        ("customer list, search", "dashboard:customer-list", {}, f"?q={middle.phone[5:12]}"),
        (
            f"customer 360 page (regular: {_history_label(regular)})",
            "dashboard:customer-detail",
            {"member_number": busiest["member_number"]},
            "",
        ),
        (
            f"customer 360 page (middle: {_history_label(middle)})",
            "dashboard:customer-detail",
            {"member_number": middle.member_number},
            "",
        ),
        (
            f"customer 360 page (long history: {_history_label(long_history)})",
            "dashboard:customer-detail",
            {"member_number": long_history.member_number},
            "",
        ),
        ("top-bar quick search", "dashboard:customer-quick-search", {}, f"?q={middle.phone[5:12]}"),
        ("duplicate customers list", "dashboard:duplicate-list", {}, ""),
        (
            "loyalty member page (ledger in words)",
            "dashboard:loyalty-customer",
            {"member_number": busiest["member_number"]},
            "",
        ),
        ("past exports list", "dashboard:export-list", {}, ""),
    ]
    for label, name, kwargs, query in pages:
        url = _url(name, **kwargs)
        if url is None:
            rows.append(skipped(label, f"URL {name} does not exist yet"))
            continue
        ms, queries, status = _page(client, url + query, runs)
        if status != 200:
            rows.append(skipped(label, f"GET {url} answered {status}"))
            continue
        rows.append(
            result_row(
                label,
                value=ms,
                unit="ms",
                reference=noop_ms,
                reference_label="bare view, same middleware + session",
                queries=queries,
                reference_queries=noop_queries,
            )
        )
    return rows


# --- export ---------------------------------------------------------------------------------


def _consent_pivot() -> str:
    from apps.customers.exports import CONSENT_KEYS

    return ", ".join(
        f"CASE WHEN bool_or(granted) FILTER (WHERE channel = '{c}' AND purpose = '{p}') "
        "THEN 'Yes' ELSE 'No' END"
        for c, p in CONSENT_KEYS
    )


def export_sql() -> str:
    """The customer export's columns in one SQL statement: the profile, the loyalty account and
    its tier, order figures, tags and the latest consent per channel and purpose, in the
    export's order (newest members first)."""
    return f"""
        COPY (
            SELECT c.member_number, c.first_name, c.last_name, c.email, c.phone, c.birth_date,
                   c.gender, c.city, c.region, c.preferred_language, c.preferred_channel,
                   s.name, c.joined_at, c.source, t.name, a.balance, a.pending,
                   a.lifetime_earned, o.spend, o.n, o.last, g.names, {_consent_pivot()}
            FROM customers_customer c
            LEFT JOIN customers_store s ON s.id = c.store_id
            LEFT JOIN loyalty_loyaltyaccount a ON a.customer_id = c.id
            LEFT JOIN loyalty_tier t ON t.id = a.tier_id
            LEFT JOIN (
                SELECT customer_id, sum(total - refunded_amount) AS spend, count(*) AS n,
                       max(placed_at) AS last
                FROM customers_order GROUP BY customer_id
            ) o ON o.customer_id = c.id
            LEFT JOIN (
                SELECT ct.customer_id, string_agg(tg.name, ', ' ORDER BY tg.name) AS names
                FROM customers_customer_tags ct JOIN customers_tag tg ON tg.id = ct.tag_id
                GROUP BY ct.customer_id
            ) g ON g.customer_id = c.id
            LEFT JOIN (
                SELECT DISTINCT ON (customer_id, channel, purpose)
                       customer_id, channel, purpose, granted
                FROM customers_consentrecord
                ORDER BY customer_id, channel, purpose, at DESC, id DESC
            ) k ON k.customer_id = c.id
            GROUP BY c.id, s.id, a.id, t.id, o.spend, o.n, o.last, g.names
            ORDER BY c.joined_at DESC, c.id DESC
        ) TO STDOUT WITH (FORMAT csv, HEADER)
    """


def _copy_out(sql: str) -> int:
    size = 0
    with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        for block in copy:
            size += len(block)
    return size


def measure_export(client: Client, runs: int) -> list[dict]:
    """The customer export (profile, loyalty account and tier, order figures, tags, consents:
    issue 9, part 4) as CSV and as XLSX, each against ``COPY`` of the same columns computed in
    one SQL statement. The query count shows the figures are read per chunk of customers, not
    per customer."""
    url = _url("dashboard:customer-export")
    if url is None:
        return [skipped("CSV export, all customers", "dashboard:customer-export does not exist")]

    def app(fmt: str) -> tuple[int, int]:
        response = client.get(url, {"format": fmt})
        if getattr(response, "streaming", False):
            body = b"".join(response.streaming_content)
        else:
            body = response.content
        return response.status_code, len(body)

    with CaptureQueriesContext(connection) as ctx:
        status, size = app("csv")
    if status != 200:
        return [skipped("CSV export, all customers", f"GET {url} answered {status}")]
    queries = len(ctx.captured_queries)
    sql = export_sql()
    customers = Customer.objects.count()
    n = max(1, min(runs, 3))
    reference = median_seconds(lambda: _copy_out(sql), n, warmup=0)
    rows = [
        result_row(
            "CSV export, all customers with loyalty figures",
            value=median_seconds(lambda: app("csv"), n, warmup=0),
            unit="s",
            reference=reference,
            reference_label="COPY (the same columns in one SELECT) TO STDOUT",
            bytes=size,
            reference_bytes=_copy_out(sql),
            customers=customers,
            queries=queries,
            reference_queries=1,
            detail=f"{customers:,} customers, streamed",
        )
    ]
    seconds, (status, size) = once(lambda: app("xlsx"))
    rows.append(
        result_row(
            "XLSX export, all customers with loyalty figures",
            value=seconds if status == 200 else None,
            unit="s",
            reference=reference,
            reference_label="COPY (the same columns in one SELECT) TO STDOUT",
            bytes=size,
            customers=customers,
            detail=f"{customers:,} customers, written to a workbook",
        )
    )
    return rows


# --- order import ---------------------------------------------------------------------------


def _import_file(path: Path, rows: int, seed: int) -> None:
    import random

    rng = random.Random(seed)
    numbers = list(Customer.objects.order_by("id").values_list("member_number", flat=True))
    stores = list(Store.objects.order_by("code").values_list("code", flat=True))
    start = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(days=30)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["member_number", "external_id", "store", "placed_at", "total"])
        for i in range(rows):
            placed = start + dt.timedelta(seconds=rng.randint(0, 29 * 86400))
            writer.writerow(
                [
                    rng.choice(numbers),
                    f"IMP-{seed}-{i:07d}",
                    rng.choice(stores),
                    placed.isoformat(),
                    f"{Decimal(rng.randint(2800, 54800)) / 100:.2f}",
                ]
            )


def _copy_in(path: Path) -> int:
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_import_raw")
        cursor.execute(
            "CREATE UNLOGGED TABLE bench_import_raw (member_number text, external_id text, "
            "store text, placed_at timestamptz, total numeric(12, 2))"
        )
        with (
            path.open("rb") as fh,
            cursor.cursor.copy("COPY bench_import_raw FROM STDIN WITH (FORMAT csv, HEADER)") as cp,
        ):
            while block := fh.read(1 << 20):
                cp.write(block)
        cursor.execute("SELECT count(*) FROM bench_import_raw")
        n = cursor.fetchone()[0]
        cursor.execute("DROP TABLE bench_import_raw")
        return n


def measure_import(scale: float, seed: int) -> list[dict]:
    label = "order import (CSV)"
    from unittest import mock

    from apps.core import events
    from apps.customers.importing.orders import orders_import
    from tests.bench import loyalty as bench_loyalty

    rows = max(1000, round(100_000 * scale))
    path = Path(settings.VAR_DIR) / "bench" / "orders_import.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    _import_file(path, rows, seed)
    file_copy, copied = once(lambda: _copy_in(path))
    tables = ("customers_order", "customers_orderline", *bench_loyalty.EARN_TABLES)
    marks, since = bench_loyalty._high_water(tables), dt.datetime.now(dt.UTC)
    # The outbox rows are written in the run; their delivery after commit is the worker's.
    with mock.patch.object(events.outbox_deliver, "delay"):
        value, result = once(lambda: orders_import(path=path, dry_run=False))
    if not result.ok:
        return [skipped(label, f"import refused the file: {result.errors[:3]}")]
    written = bench_loyalty._written_rows(marks, since)
    counts = {table: len(r) for table, (_c, r) in written.items()}
    reference, written_rows = bench_loyalty._copy_reference(written)
    return [
        result_row(
            f"{label} with earning, {rows:,} orders",
            value=value,
            unit="s",
            reference=reference,
            reference_label=(
                f"COPY the same {written_rows:,} rows (orders, lines, lots, ledger rows, ...) "
                "+ UPDATE accounts"
            ),
            created=result.created,
            rows_written=counts,
            file_copy_seconds=round(file_copy, 3),
            reference_rows=copied,
            rows_per_second=round(rows / value),
            written_rows_per_second=round(written_rows / value),
            in_transaction_subscribers=[s.name for s in events.subscribers("orders.imported")],
            detail=(
                f"{rows / value:,.0f} file rows/s, {written_rows / value:,.0f} rows written/s "
                f"(COPY {written_rows / reference:,.0f}/s); COPY of the file alone "
                f"{file_copy:.2f} s"
            ),
        )
    ]


# --- all ------------------------------------------------------------------------------------


def _guarded(label: str, fn: Callable[[], list[dict]]) -> list[dict]:
    print(f"Measuring {label}...", flush=True)
    try:
        return fn()
    except Exception as exc:  # a broken feature must not hide the other figures
        traceback.print_exc()
        return [skipped(label, f"failed: {type(exc).__name__}: {exc}"[:300])]


GROUPS = (
    "loyalty",
    "search",
    "pages",
    "audit",
    "export",
    "import",
    "api",
    "events",
    "surveys",
    "programme",
    "survey_invitations",
    "complaints",
    "analytics",
    "campaigns",
    "exports",
    "webhooks",
    "load",
)


def run_all(
    *,
    scale: float,
    runs: int,
    seed: int,
    only: set[str] | None = None,
    profile_expiry: bool = False,
    load_seconds: float = 60,
    load_tills: int = 32,
    export_customers: int | None = None,
) -> list[dict]:
    """Every group, or those in ``only``. Loyalty runs first, on the ledger exactly as seeded
    (the order import and the API earn points too, and would add rows to it); ``programme``
    runs last (see ``loyalty.run_programme``)."""
    wanted = set(GROUPS) if not only else set(only)
    results: list[dict] = []
    if "loyalty" in wanted:
        from tests.bench import loyalty

        results += loyalty.run_all(scale=scale, profile=profile_expiry)
    if "search" in wanted:
        results += _guarded("search", lambda: measure_search(runs))
    with override_settings(ROOT_URLCONF=BENCH_URLCONF):
        client = Client()
        client.force_login(_manager())
        if "pages" in wanted:
            results += _guarded("pages", lambda: measure_pages(client, runs))
        if "audit" in wanted:
            from tests.bench import audit

            results += _guarded("audit", lambda: audit.measure_audit(client, runs, scale=scale))
        if "export" in wanted:
            results += _guarded("export", lambda: measure_export(client, runs))
        if "import" in wanted:
            results += _guarded("import", lambda: measure_import(scale, seed))
        if "api" in wanted:
            from tests.bench import api as api_bench

            results += _guarded("api", lambda: api_bench.measure_api(scale, seed))
        if "complaints" in wanted:
            from tests.bench import complaints

            results += _guarded(
                "complaints", lambda: complaints.measure_complaints(client, scale=scale, runs=runs)
            )
        if "analytics" in wanted:
            from tests.bench import kpi

            results += _guarded("kpi", lambda: kpi.measure_kpi(client, runs=runs))
    if "events" in wanted:
        from tests.bench import events as event_bench

        results += _guarded("events", lambda: event_bench.measure_events(scale=scale))
    if "surveys" in wanted:
        from tests.bench import surveys

        results += _guarded("surveys", lambda: surveys.measure_surveys(scale=scale, runs=runs))
    if "survey_invitations" in wanted:
        from tests.bench import survey_invitations as sv

        results += _guarded(
            "survey_invitations", lambda: sv.measure_survey_invitations(scale=scale)
        )
    if "analytics" in wanted:
        from tests.bench import analytics

        results += _guarded(
            "analytics", lambda: analytics.measure_analytics(scale=scale, runs=runs)
        )
        from tests.bench import cohorts

        results += _guarded("cohorts", lambda: cohorts.measure_cohorts(runs=runs))
    if "campaigns" in wanted:
        from tests.bench import campaigns

        results += _guarded("campaigns", lambda: campaigns.measure_campaigns(scale=scale))
    if "exports" in wanted:
        from tests.bench import exports

        results += _guarded(
            "exports",
            lambda: exports.measure_exports(
                scale=scale, runs=runs, seed=seed, customers=export_customers
            ),
        )
    if "load" in wanted:
        from tests.bench import load

        results += _guarded(
            "load", lambda: load.measure_load(seconds=load_seconds, tills=load_tills)
        )
    if "webhooks" in wanted:
        from tests.bench import webhooks

        results += _guarded("webhooks", lambda: webhooks.measure_webhooks(scale=scale))
    if "programme" in wanted:
        from tests.bench import loyalty

        # Last: it configures tiers and badges, which every later earning would pay for.
        results += loyalty.run_programme(scale=scale)
    return results


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return ""
    if unit == "ms":
        return f"{value:,.1f} ms"
    if unit == "s":
        return f"{value:,.2f} s"
    return f"{value:,.0f} {unit}"


def format_table(results: list[dict]) -> str:
    header = ("operation", "value", "reference", "ratio", "notes")
    rows = []
    for r in results:
        if r.get("skipped"):
            rows.append((r["operation"], "skipped", "", "", r["note"]))
            continue
        notes = []
        if "queries" in r:
            notes.append(f"{r['queries']} queries (ref {r['reference_queries']})")
        if "matches" in r:
            notes.append(f"{r['matches']} matches")
        if "errors" in r:
            notes.append(f"{r['errors']} errors")
        if "rows_per_second" in r:
            notes.append(f"{r['rows_per_second']:,} rows/s")
        if r.get("detail"):
            notes.append(r["detail"])
        rows.append(
            (
                r["operation"],
                _fmt(r["value"], r["unit"]),
                f"{_fmt(r['reference'], r['unit'])} ({r['reference_label']})",
                f"{r['ratio']}×" if r["ratio"] is not None else "",
                "; ".join(notes),
            )
        )
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    lines = [" | ".join(str(c).ljust(w) for c, w in zip(header, widths, strict=True))]
    lines.append("-+-".join("-" * w for w in widths))
    lines += [" | ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    return "\n".join(lines)
