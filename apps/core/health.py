"""Probes for load balancers and orchestrators, and the checks ``manage.py doctor`` prints.

- ``/healthz``: the process answers. No database, no cache, nothing else: a liveness probe
  must not restart a web process because the database is away.
- ``/readyz``: the process can serve: the database answers, the cache takes a write, the
  broker accepts a connection, and every migration is applied. Each check runs in a long-lived
  thread of its own (keeping its database connection between probes) and is given
  ``READINESS_CHECK_TIMEOUT`` seconds: a hung dependency is reported as
  such, it never hangs the probe. 200 ``{"status": "ok", ...}`` or 503 naming the failing
  checks. The public answer gives a failure's kind only (hosts and ports stay in the log and
  in ``doctor``): the probe is reachable without credentials.

Load balancers probe over plain HTTP with the backend's address as Host. ``ProbeMiddleware``,
first in ``MIDDLEWARE``, answers ``/healthz``, ``/readyz`` and ``/metrics`` before
SecurityMiddleware (SSL redirect) and before the host check (``request.get_host()``, first
called by CommonMiddleware) see them; no session, no user, no database beyond the checks.
"""

import contextlib
import json
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_safe
from kombu import Connection

from .metrics import metrics_view

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    ms: float
    detail: str = ""  # for a person (doctor, the log): may name hosts
    kind: str = ""  # for the public probe: "timeout" or the exception's class
    fix: str = ""


@dataclass(frozen=True)
class Check:
    name: str
    run: Callable[[], str]  # raises on a problem; returns a short note
    fix: str


def check_database() -> str:
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return connections[DEFAULT_DB_ALIAS].vendor


def check_cache() -> str:
    key = f"readyz:{threading.get_ident()}"
    cache.set(key, "1", timeout=10)
    if cache.get(key) != "1":
        raise RuntimeError("the cache did not return what was just written")
    cache.delete(key)
    return settings.CACHES["default"]["BACKEND"].rsplit(".", 1)[-1]


def check_broker() -> str:
    timeout = settings.READINESS_CHECK_TIMEOUT
    options = getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", None) or {}
    with Connection(
        settings.CELERY_BROKER_URL, connect_timeout=timeout, transport_options=options
    ) as connection:
        connection.ensure_connection(max_retries=1, interval_start=0, timeout=timeout)
    return settings.CELERY_BROKER_URL.partition(":")[0]


# Once every migration was found applied, this process's code never needs the check again
# (a migration added later comes with new code, hence a new process).
_migrated = threading.Event()


def check_migrations() -> str:
    if _migrated.is_set():
        return "all applied"
    executor = MigrationExecutor(connections[DEFAULT_DB_ALIAS])
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if plan:
        names = ", ".join(f"{m.app_label}.{m.name}" for m, _backwards in plan[:5])
        more = f" and {len(plan) - 5} more" if len(plan) > 5 else ""
        raise RuntimeError(f"{len(plan)} unapplied: {names}{more}")
    _migrated.set()
    return "all applied"


CHECKS: list[Check] = [
    Check(
        "database",
        check_database,
        "Is PostgreSQL running and DATABASE_URL right (host, port, user, password, database)? "
        "Try: psql \"$DATABASE_URL\" -c 'select 1'.",
    ),
    Check(
        "cache",
        check_cache,
        'Is Redis running and REDIS_URL right? Try: redis-cli -u "$REDIS_URL" ping. Without '
        "REDIS_URL the cache is a database table: run manage.py createcachetable.",
    ),
    Check(
        "broker",
        check_broker,
        "Is the Celery broker running and CELERY_BROKER_URL (or REDIS_URL) right? Try: "
        'redis-cli -u "$CELERY_BROKER_URL" ping.',
    ),
    Check(
        "migrations",
        check_migrations,
        "Run: manage.py migrate (then restart the web processes and workers).",
    ),
]


class _Prober:
    """A long-lived daemon thread that runs one check at a time. Its database connection is its
    own and stays open between probes (a probe every few seconds does not open a connection
    each time); a failed check closes it, so the next one connects afresh. A check that does
    not answer in time leaves its thread behind: the next probe gets a new thread (the old one
    ends with the process, or when its call returns)."""

    def __init__(self, name: str) -> None:
        self.jobs: queue.SimpleQueue = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._loop, name=f"readyz-{name}", daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while True:
            check, answer = self.jobs.get()
            if check is None:  # ``probers_close``
                connections.close_all()
                answer.put({})
                return
            outcome: dict = {}
            try:
                outcome["note"] = check.run()
            except Exception as exc:
                outcome["error"] = exc
                connections.close_all()  # a broken connection is not kept
            answer.put(outcome)

    def run(self, check: Check, timeout: float) -> dict | None:
        answer: queue.SimpleQueue = queue.SimpleQueue()
        self.jobs.put((check, answer))
        try:
            return answer.get(timeout=timeout)
        except queue.Empty:
            return None


_probers: dict[str, _Prober] = {}
_probers_lock = threading.Lock()


def probers_close(timeout: float = 5) -> None:
    """End the probe threads and close their connections (before a database they hold open is
    dropped: the test database at the end of a test run)."""
    with _probers_lock:
        probers = list(_probers.values())
        _probers.clear()
    for prober in probers:
        answer: queue.SimpleQueue = queue.SimpleQueue()
        prober.jobs.put((None, answer))
        with contextlib.suppress(queue.Empty):
            answer.get(timeout=timeout)


def _run_bounded(check: Check, timeout: float) -> CheckResult:
    with _probers_lock:
        prober = _probers.get(check.name) or _probers.setdefault(check.name, _Prober(check.name))
    started = time.monotonic()
    outcome = prober.run(check, timeout)
    ms = round((time.monotonic() - started) * 1000, 1)
    if outcome is None:
        with _probers_lock:
            if _probers.get(check.name) is prober:
                del _probers[check.name]  # stuck: the next probe starts a new thread
        detail = f"no answer within {timeout:g} s"
        return CheckResult(check.name, False, ms, detail, "timeout", check.fix)
    if "error" in outcome:
        exc = outcome["error"]
        detail = f"{type(exc).__name__}: {exc}".strip()[:500]
        return CheckResult(check.name, False, ms, detail, type(exc).__name__, check.fix)
    return CheckResult(check.name, True, ms, str(outcome.get("note", "")))


def readiness(timeout: float | None = None) -> list[CheckResult]:
    """Run every check at once, each bounded by ``timeout`` seconds."""
    timeout = settings.READINESS_CHECK_TIMEOUT if timeout is None else timeout
    results: dict[str, CheckResult] = {}
    threads = [
        threading.Thread(
            target=lambda c=check: results.__setitem__(c.name, _run_bounded(c, timeout)),
            daemon=True,
        )
        for check in CHECKS
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout + 1)
    return [
        results.get(c.name)
        or CheckResult(c.name, False, timeout * 1000, "did not finish", "timeout", c.fix)
        for c in CHECKS
    ]


def _no_store(response: HttpResponse) -> HttpResponse:
    response.headers["Cache-Control"] = "no-store"
    return response


@require_safe
def healthz(request: HttpRequest) -> HttpResponse:
    return _no_store(JsonResponse({"status": "ok"}))


@require_safe
def readyz(request: HttpRequest) -> HttpResponse:
    results = readiness()
    failing = [r for r in results if not r.ok]
    for result in failing:
        log.warning("readiness check %s failed: %s", result.name, result.detail)
    body = {
        "status": "fail" if failing else "ok",
        "failing": [r.name for r in failing],
        "checks": {
            r.name: {"ok": r.ok, "ms": r.ms, **({"error": r.kind} if not r.ok else {})}
            for r in results
        },
    }
    return _no_store(
        HttpResponse(
            json.dumps(body), status=503 if failing else 200, content_type="application/json"
        )
    )


ENDPOINTS: dict[str, Callable[[HttpRequest], HttpResponse]] = {
    "/healthz": healthz,
    "/readyz": readyz,
    "/metrics": metrics_view,
}


class ProbeMiddleware:
    """First in ``MIDDLEWARE``: answers GET and HEAD of the probe and metrics paths itself, so
    that neither the SSL redirect nor ``ALLOWED_HOSTS`` nor a session touches them. Other
    methods go the ordinary way (the URL conf answers 405)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        view = ENDPOINTS.get(request.path_info)
        if view is not None and request.method in ("GET", "HEAD"):
            return view(request)
        return self.get_response(request)
