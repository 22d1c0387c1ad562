# ruff: noqa: T201 - a console script reports on stdout
"""``make bench``: the benchmark suite (DESIGN §7). Not pytest: a script.

    DATABASE_URL=postgres://... python -m tests.bench.run [--scale 0.1] [--runs 7] [--reuse]

It creates its own database ``<name>_bench`` next to the one in DATABASE_URL (dropped and
re-created each run, so dev data is never touched), migrates it, seeds a large deterministic
data set set-based (see ``tests/bench/dataset.py``), then measures each operation side by side
with its physical reference in the same run and reports the ratio (how many times slower the
application path is than the reference; for throughput, reference / value):

- customer search-as-you-type through ``customer_list(query=...)`` (first page of 25 + count)
  vs the bare ``SELECT ... WHERE search_text LIKE ... LIMIT 25`` and ``count(*)``;
- customer list page, list page with a search, and customer 360 page through the test Client
  logged in as a manager (median latency, query count) vs a bare Django view in the same stack;
- the customer export (profile, loyalty account and tier, order figures, tags, consents) through
  ``dashboard:customer-export``, as CSV and as XLSX, vs ``COPY`` of the same columns computed in one
  ``SELECT``;
- order import through ``orders_import`` vs ``COPY`` of the same file into a bare table;
- ``POST /api/v1/orders/`` requests/s vs a bare Django JSON endpoint, in-process;
- the audit trail page and its keyset pages over 1M audit rows (``tests/bench/audit.py``), first
  and 90% deep, vs the bare SQL of the same page;
- the points ledger (``tests/bench/loyalty.py``, measured first, on the ledger as seeded):
  ``verify_ledger``, ``points_mature_due`` and ``points_expire_due`` over ~1M lots, and
  ``orders_earn_bulk`` over existing orders, each against set-based SQL or ``COPY``.
- customer value (``tests/bench/analytics.py``): ``recompute_metrics`` end to end vs the bare
  SQL RFM aggregate plus the model fits; the BG/NBD fit; a segment's live count vs the same
  condition as hand-written SQL; the cohort matrix (``tests/bench/cohorts.py``, 24 join-month
  cohorts) vs the same matrix as one hand-written SQL query.
- exports (``tests/bench/exports.py``): an XLSX export of 1M rows (at scale 1) through our writer
  against plain openpyxl write-only on the same rows, and its peak memory at two row counts; the
  customer export as streamed CSV against ``COPY`` of the same columns, in rows/s.
- ``POST /api/v1/orders/`` under load (``tests/bench/load.py``, group ``load``): gunicorn with
  2 workers and production settings, ``--load-tills`` concurrent tills (32) posting orders of
  returning members for ``--load-seconds`` (60) from another process: requests/s, latency p50,
  p95 and p99, errors (must be 0), then ``verify_ledger`` (must be clean).
- survey analysis (``tests/bench/surveys.py``): one survey with ~1M answers seeded set-based;
  the NPS summary, the distributions and the breakdowns through ``apps.surveys.analysis`` vs the
  bare SQL aggregates of the same figures.
- outbound webhooks (``tests/bench/webhooks.py``, group ``webhooks``): ``order.earned``
  deliveries sent one by one to a local receiver vs a bare ``http.client`` loop posting the same
  signed bodies; ``order_ingest`` with three endpoints subscribed vs none; ``/healthz``,
  ``/readyz`` and ``/metrics`` vs a bare JSON view. It makes the few rows it needs: run alone it
  gets a database of its own, ``<name>_bench_bare``, migrated and never seeded (any scale, in
  seconds).

Options: ``--expired-share`` / ``--pending-share`` shape the seeded ledger, ``--only loyalty,api``
measures some groups, ``--profile-expiry`` runs the expiry job under cProfile.

Rows whose feature does not exist yet are reported as skipped with the reason. Results go to
``var/bench/latest.json`` and a table on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import warnings
from pathlib import Path
from urllib.parse import urlparse, urlunparse

POSTGRES_SCHEMES = ("postgres", "postgresql", "pgsql", "postgis")

# Groups that make the few rows they need themselves. Run with no other group, they get a
# database of their own, ``<name>_bench_bare``, migrated and never seeded: a seeded
# ``<name>_bench`` is not dropped for them, and a later ``--reuse`` never takes a database with
# only their rows for a seeded one.
UNSEEDED_GROUPS = frozenset({"webhooks"})


def _bench_database(url: str, *, suffix: str = "_bench") -> tuple[str, str, str]:
    """(maintenance conninfo, bench DATABASE_URL, bench database name) for a PostgreSQL URL."""
    parsed = urlparse(url)
    name = parsed.path.lstrip("/") or "clientele"
    bench = f"{name}{suffix}"
    libpq = parsed._replace(scheme="postgresql")
    return (
        urlunparse(libpq._replace(path="/postgres")),
        urlunparse(parsed._replace(path=f"/{bench}")),
        bench,
    )


def _create_database(maintenance: str, name: str, *, reuse: bool) -> bool:
    """Create a fresh database; with ``reuse``, keep an existing one. True when it is new."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(maintenance, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if exists and reuse:
            return False
        if exists:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.run", description=__doc__)
    parser.add_argument("--scale", type=float, default=1.0, help="1.0 = 100k customers")
    parser.add_argument("--runs", type=int, default=7, help="repetitions for medians")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--reuse", action="store_true", help="keep an already seeded bench database"
    )
    parser.add_argument("--output", default="var/bench/latest.json")
    parser.add_argument(
        "--expired-share",
        type=float,
        default=1.0,
        help="share of the seeded available points lots already past expiry (0-1)",
    )
    parser.add_argument(
        "--pending-share",
        type=float,
        default=0.05,
        help="pending lots past their return window, as a share of the lots (0-1)",
    )
    parser.add_argument(
        "--only",
        default="",
        help="comma-separated groups to measure (default: all): loyalty, search, pages, "
        "audit, export, import, api, events, surveys, programme, survey_invitations, complaints, "
        "analytics, campaigns, exports, webhooks, load",
    )
    parser.add_argument(
        "--load-seconds",
        type=float,
        default=60,
        help="load group: how long the tills post orders at gunicorn (seconds)",
    )
    parser.add_argument(
        "--load-tills", type=int, default=32, help="load group: concurrent tills (connections)"
    )
    parser.add_argument(
        "--export-customers",
        type=int,
        default=None,
        help="exports group: also measure the CSV export at this many customers (e.g. 1000000) "
        "in a copy of the bench database grown to that size, <name>_bench_export (kept and "
        "reused while it holds that many customers)",
    )
    parser.add_argument(
        "--profile-expiry",
        action="store_true",
        help="run points_expire_due under cProfile (var/bench/points_expire_due.txt)",
    )
    args = parser.parse_args(argv)

    url = os.environ.get("DATABASE_URL", "")
    if urlparse(url).scheme not in POSTGRES_SCHEMES:
        print(
            "make bench needs PostgreSQL: set DATABASE_URL=postgres://user@host:5432/name "
            "(the benchmark creates and uses a separate database <name>_bench).",
            file=sys.stderr,
        )
        return 2
    only = {g.strip() for g in args.only.split(",") if g.strip()}
    seeded = not only or not only <= UNSEEDED_GROUPS
    maintenance, bench_url, bench_name = _bench_database(
        url, suffix="_bench" if seeded else "_bench_bare"
    )
    load_at_start = os.getloadavg()
    print(
        f"Benchmark database: {bench_name} (scale {args.scale}"
        f"{'' if seeded else ', not seeded'}), load {load_at_start[0]:.2f}"
    )
    fresh = _create_database(maintenance, bench_name, reuse=args.reuse)

    os.environ["DATABASE_URL"] = bench_url
    # Test settings: DEBUG off (no query log growing in memory), in-memory cache and e-mail.
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.test"
    import django

    # WhiteNoise warns that collectstatic never ran; irrelevant to timings.
    warnings.filterwarnings("ignore", message="No directory at", category=UserWarning)
    django.setup()
    from django.core.management import call_command
    from django.test.utils import setup_test_environment

    setup_test_environment()  # the test Client's "testserver" host, locmem e-mail
    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    print(f"Migrated in {time.perf_counter() - started:.1f} s")

    from apps.customers.models import Customer
    from apps.loyalty.models import PointsLot
    from tests.bench import dataset, loyalty, measure

    unknown = only - set(measure.GROUPS)
    if unknown:
        print(f"Unknown group(s): {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2

    if not seeded:
        data = {"seeded": False}
    elif fresh or not Customer.objects.exists():
        print("Seeding...")
        started = time.perf_counter()
        data = dataset.seed(scale=args.scale, seed=args.seed)
        data["seconds"] = time.perf_counter() - started
        print(f"Seeded in {data['seconds']:.1f} s")
    else:
        data = {"customers": Customer.objects.count(), "reused": True}
    if seeded and not PointsLot.objects.exists():
        print("Seeding the points ledger...")
        started = time.perf_counter()
        data["loyalty"] = loyalty.seed_ledger(
            scale=args.scale,
            seed=args.seed,
            expired_share=args.expired_share,
            pending_share=args.pending_share,
        )
        data["loyalty"]["seconds"] = time.perf_counter() - started
        print(f"Seeded the ledger in {data['loyalty']['seconds']:.1f} s")

    if not only or "surveys" in only:
        from tests.bench import surveys

        print("Seeding the survey...")
        data["surveys"] = surveys.seed_survey(scale=args.scale)

    started = time.perf_counter()
    results = measure.run_all(
        scale=args.scale,
        runs=args.runs,
        seed=args.seed,
        only=only or None,
        profile_expiry=args.profile_expiry,
        load_seconds=args.load_seconds,
        load_tills=args.load_tills,
        export_customers=args.export_customers,
    )
    measured = time.perf_counter() - started

    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        pg_version = cursor.fetchone()[0]
    report = {
        "at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "scale": args.scale,
        "runs": args.runs,
        "database": bench_name,
        "postgresql": pg_version,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_average": {"start": load_at_start, "end": os.getloadavg()},
        "dataset": data,
        "measured_seconds": round(measured, 1),
        "results": results,
    }
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, default=str), encoding="utf-8")
    print()
    print(measure.format_table(results))
    load = report["load_average"]
    print(
        f"\nMeasured in {measured:.0f} s; load average {load['start'][0]:.2f} at the start, "
        f"{load['end'][0]:.2f} at the end ({os.cpu_count()} CPUs)"
    )
    print(f"Written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
