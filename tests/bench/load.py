# ruff: noqa: T201 - a console script reports on stdout
"""``POST /api/v1/orders/`` under load (issue 15): the application served the way production
serves it, tills posting orders at it from another process, then the ledger checked.

- The server: gunicorn with ``WORKERS`` sync workers on ``config.wsgi`` with the production
  settings (``config.settings.prod``: DEBUG off, persistent database connections, the cache at
  ``REDIS_URL`` when set, else the database cache), on a free local port, against the bench
  database. The secrets production insists on are made up for the run, except ``LEDGER_KEY``,
  which is the bench's own (the seeded ledger's chains are keyed by it). Requests arrive as
  from the TLS-terminating proxy (``X-Forwarded-Proto: https``). Two settings differ from a
  real deployment, each for a stated reason: the Celery broker is ``memory://`` (no worker
  runs here, and the tasks queued after commit must not pile up in a shared Redis), and the
  per-key API rate (``API_RATE``, 3,000/minute by default: one key carries all the tills of a
  chain) is raised to ``API_RATE`` here: 32 tills on one key may ask for more than 50
  requests a second, and the default would answer 429 to the excess; a chain with that many
  tills is given a higher rate the same way.
- The programme: the demo's (tiers, earn rules, rewards, badges), as the sequential API
  benchmark (``tests/bench/api.py``) configures it: one rule set.
- The tills (``tests/bench/tills.py``, its own process): ``--load-tills`` threads (32), each
  with its own keep-alive connection, posting orders one after the other, each with its own
  Idempotency-Key and external id; the bodies are the sequential API benchmark's. The members
  are ``WARMUP_ROUNDS`` x tills customers with orders and a loyalty account, each till serving
  its own share of them in turn (no two tills ever serve one member at once, as at real tills).
  Each till first posts ``WARMUP_ROUNDS`` orders, one for each of its members, not measured
  (the workers' first requests load what Django loads lazily, and every member's first order
  under the programme joins its tier and wins its first-order badges); once every till is
  warm, the measured window of ``--load-seconds`` (60) opens: returning members only.
- Reported: requests/s, latency p50, p95, p99 (and the maximum), the number of non-2xx
  answers and transport errors (must be 0), the orders recorded in the database (must equal
  the 2xx answers) and ``verify_ledger`` over the whole database afterwards (must be clean).

gunicorn is stopped at the end whatever happens (its process group: the master and workers),
and its output is kept in ``var/bench/load-gunicorn.log``. The machine's cores are shared by
the server and the tills, so requests/s is a figure of this machine, not of the application
alone. Run it alone with ``python -m tests.bench.run --only load --reuse``.
"""

from __future__ import annotations

import io
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.db.models import Exists, OuterRef

from apps.accounts.services import api_key_create
from apps.customers.models import Customer, Order, Store
from tests.bench.dataset import anchor
from tests.bench.loyalty import _configure_programme
from tests.bench.measure import result_row, skipped

LOAD_SECONDS = 60
LOAD_TILLS = 32
WORKERS = 2
API_RATE = "1000000/minute"
ORDERS_PATH = "/api/v1/orders/"
BOOT_SECONDS = 120
# Orders each till posts before the measured window opens, one for each of its members: a
# worker's first requests load what Django and DRF load lazily (seconds each on a busy machine),
# and a member's first order under the programme does first-time work: not steady state.
WARMUP_ROUNDS = 20


def database_url(db: dict) -> str:
    """A ``DATABASE_URL`` for Django's connection settings ``db`` (PostgreSQL)."""
    user = quote(db.get("USER") or "", safe="")
    password = quote(db.get("PASSWORD") or "", safe="")
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = db.get("HOST") or "127.0.0.1"
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgres://{auth}{host}{port}/{quote(db['NAME'], safe='')}"


def server_env(*, database: str, api_rate: str = API_RATE) -> dict[str, str]:
    """The environment of the gunicorn server: production settings against ``database``."""
    erasure_key = settings.ERASURE_DIGEST_KEY
    if len(erasure_key) < 32 or erasure_key == settings.LEDGER_KEY:
        erasure_key = secrets.token_urlsafe(48)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.prod",
        "DATABASE_URL": database,
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(48),
        "LEDGER_KEY": settings.LEDGER_KEY,
        "ERASURE_DIGEST_KEY": erasure_key,
        # Production refuses to start without a real mail server; no order sends mail.
        "EMAIL_URL": "smtp://127.0.0.1:25",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "CELERY_BROKER_URL": "memory://",
        "API_RATE": api_rate,
        "LOG_LEVEL": "WARNING",
    }
    env.pop("DATABASE_REPLICA_URL", None)
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _answers(port: int) -> bool:
    """True once the server answers HTTP on ``port`` (any status)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
            sock.sendall(b"GET /api/v1/ HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
            return sock.recv(12).startswith(b"HTTP/")
    except OSError:
        return False


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def stop_server(process: subprocess.Popen) -> None:
    """Stop gunicorn and its workers: SIGTERM to its process group (a graceful stop), SIGKILL
    after 20 s; the group is killed even when the master already exited, so no orphaned worker
    is left behind."""
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    with suppress(subprocess.TimeoutExpired):
        process.wait(timeout=20)
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


@contextmanager
def gunicorn_server(
    *, database: str, workers: int = WORKERS, log_path: Path, api_rate: str = API_RATE
) -> Iterator[tuple[str, int, int]]:
    """gunicorn serving the application on a free local port: yields (host, port, process
    group) once it answers, and stops it on leaving, however the block ends."""
    port = free_port()
    log_path.parent.mkdir(parents=True, exist_ok=True)
    env = server_env(database=database, api_rate=api_rate)
    # Without REDIS_URL production caches in the database (throttles, rate limits): its table is
    # made by the deploy's ``createcachetable``, which the bench database (migrated under the
    # test settings' in-memory cache) never ran. A no-op with Redis.
    subprocess.run(
        [sys.executable, "manage.py", "createcachetable"],
        cwd=settings.BASE_DIR,
        env=env,
        check=True,
        capture_output=True,
    )
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "config.wsgi:application",
                f"--workers={workers}",
                f"--bind=127.0.0.1:{port}",
                "--timeout=120",
                "--graceful-timeout=10",
                # No control socket: its default path is shared by every gunicorn of the user.
                "--no-control-socket",
            ],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, stopped as one
        )
    try:
        deadline = time.monotonic() + BOOT_SECONDS
        while not _answers(port):
            if process.poll() is not None:
                raise RuntimeError(f"gunicorn exited ({process.returncode}):\n{_tail(log_path)}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn did not answer in {BOOT_SECONDS} s")
            time.sleep(0.2)
        yield "127.0.0.1", port, process.pid
    finally:
        stop_server(process)


def returning_members(limit: int) -> list[str]:
    """Member numbers of customers who have ordered before and have a loyalty account."""
    return list(
        Customer.objects.filter(
            Exists(Order.objects.filter(customer=OuterRef("pk"))),
            anonymized_at__isnull=True,
            loyalty_account__isnull=False,
        )
        .order_by("pk")
        .values_list("member_number", flat=True)[:limit]
    )


def run_tills(params: dict, *, timeout: float) -> dict:
    """The tills in their own process (``tests.bench.tills``); their JSON summary."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False, encoding="utf-8") as fh:
        json.dump(params, fh)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "tests.bench.tills", fh.name],
            cwd=settings.BASE_DIR,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    finally:
        os.unlink(fh.name)
    if done.returncode != 0 or not done.stdout.strip():
        raise RuntimeError(f"the tills failed ({done.returncode}): {done.stderr[-1000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def verify_ledger() -> tuple[bool, str]:
    """``manage.py verify_ledger`` over the database: (clean, its last words)."""
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("verify_ledger", stdout=out, stderr=err)
    except CommandError as exc:
        faults = err.getvalue().strip().splitlines()[:3]
        return False, "; ".join([str(exc), *faults])
    return True, out.getvalue().strip()


def load_run(
    *,
    seconds: float,
    tills: int,
    members: list[str],
    stores: list[str],
    api_key: str,
    log_path: Path,
    warmup_requests: int = WARMUP_ROUNDS,
    workers: int = WORKERS,
) -> dict:
    """One load run against the current database: start gunicorn, run the tills, stop it.
    Returns the tills' summary plus ``run`` (the tag in every external id of the run)."""
    run = f"{int(time.time() * 1000):x}"
    database = database_url(connection.settings_dict)
    with gunicorn_server(database=database, workers=workers, log_path=log_path) as server:
        host, port, pgid = server
        summary = run_tills(
            {
                "host": host,
                "port": port,
                "server_pgid": pgid,
                "path": ORDERS_PATH,
                "api_key": api_key,
                "tills": tills,
                "seconds": seconds,
                "warmup_requests": warmup_requests,
                "run": run,
                "members": members,
                "stores": stores,
            },
            timeout=seconds + 900,
        )
    return {**summary, "run": run, "workers": workers, "port": port}


def measure_load(*, seconds: float = LOAD_SECONDS, tills: int = LOAD_TILLS) -> list[dict]:
    label = (
        f"POST /api/v1/orders/ under load (gunicorn {WORKERS} workers, {tills} tills, "
        f"{seconds:g} s)"
    )
    configured = _configure_programme(anchor())
    members = returning_members(limit=tills * WARMUP_ROUNDS)
    stores = list(Store.objects.order_by("code").values_list("code", flat=True))
    if not members or not stores:
        return [skipped(label, "no returning members or no stores in the bench database")]
    _key, raw = api_key_create(name="bench-load")
    log_path = Path(settings.VAR_DIR) / "bench" / "load-gunicorn.log"
    summary = load_run(
        seconds=seconds,
        tills=tills,
        members=members,
        stores=stores,
        api_key=raw,
        log_path=log_path,
    )
    recorded = Order.objects.filter(external_id__startswith=f"LOAD-{summary['run']}-").count()
    answered = summary["ok"] + sum(
        n for status, n in summary["warmup_statuses"].items() if 200 <= int(status) < 300
    )
    print("  verify_ledger...", flush=True)
    started = time.perf_counter()
    clean, verdict = verify_ledger()
    verify_seconds = time.perf_counter() - started
    ledger = "clean" if clean else "FAULTS"
    latency = (
        f"p50 {summary['p50_ms']} ms, p95 {summary['p95_ms']} ms, p99 {summary['p99_ms']} ms, "
        f"max {summary['max_ms']} ms"
    )
    common = {
        "errors": summary["errors"],
        "statuses": summary["statuses"],
        "error_samples": summary["error_samples"],
        "requests": summary["requests"],
        "orders_recorded": recorded,
        "orders_answered": answered,
        "ledger": ledger,
        "verify_ledger": verdict,
        "verify_ledger_seconds": round(verify_seconds, 1),
        "load": summary,
    }
    return [
        result_row(
            f"{label}: requests/s",
            value=summary["requests_per_second"],
            unit="req/s",
            reference=None,
            reference_label="-",
            detail=(
                f"{summary['requests']:,} requests; {recorded:,} orders recorded for "
                f"{answered:,} 2xx answers (warm-up included); {latency}; verify_ledger {ledger}; "
                f"{len(members):,} returning members, demo programme ({configured['tiers']} "
                f"tiers, {configured['badges']} badges)"
            ),
            **common,
        ),
        result_row(
            f"{label}: p95 latency",
            value=summary["p95_ms"],
            unit="ms",
            reference=None,
            reference_label="-",
            detail=(
                f"{latency}; mean {summary['mean_ms']} ms; server CPU "
                f"{summary.get('server_cpu_ms_per_request')} ms a request"
            ),
            p50_ms=summary["p50_ms"],
            p99_ms=summary["p99_ms"],
            errors=summary["errors"],
        ),
    ]
