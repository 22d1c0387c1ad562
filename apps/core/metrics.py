"""Prometheus metrics at ``/metrics``: request latency by view (django-prometheus's
middleware), Celery task durations and failures (``apps.core.observability`` feeds them), and
figures read at scrape time: Celery queue lengths, the event outbox backlog, the last run of
each scheduled job, and whatever other apps register (the ledger verification, from
``apps.loyalty``, through ``collector_register`` in its ``ready()``).

Processes. gunicorn runs several workers and a Celery worker forks a pool: each process counts
on its own. With ``PROMETHEUS_MULTIPROC_DIR`` set (an empty directory, the same for every
process of one service on one host, emptied before the service starts) prometheus_client
keeps the counts in files there and a scrape adds up every process's files. Without it, a
scrape reports the process that answered it (right for ``runserver`` and tests).

Access. ``METRICS_TOKEN`` unset: ``/metrics`` does not exist (404). Set: a scrape must send
``Authorization: Bearer <token>``, compared in constant time.
"""

import hmac
import logging
import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import redis
from django.conf import settings
from django.db.models import Count, Min
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.http import require_safe
from django_celery_beat.models import PeriodicTask
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    start_http_server,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

from .models import JobRun, OutboxEvent

log = logging.getLogger(__name__)

TASK_DURATION = Histogram(
    "clientele_celery_task_duration_seconds",
    "Time a Celery task ran, by task and final state.",
    ["task", "state"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 1800, 3600, float("inf")),
)
TASK_FAILURES = Counter(
    "clientele_celery_task_failures_total",
    "Celery task runs that ended in an exception, by task.",
    ["task"],
)

# kombu's Redis transport keeps a queue's messages of priority p > 0 under "<queue>\x06\x16<p>".
_PRIORITY_SEPARATOR = "\x06\x16"
_PRIORITY_STEPS = (0, 3, 6, 9)
REDIS_TIMEOUT = 1.0  # seconds: a hung broker must not hang the scrape

Collect = Callable[[], Iterable[Metric]]
_collectors: list[Collect] = []


def collector_register(collect: Collect) -> None:
    """Add figures read at scrape time. ``collect`` returns prometheus_client metric families;
    an app registers it in its ``AppConfig.ready()`` (apps.core imports no app above it)."""
    if collect not in _collectors:
        _collectors.append(collect)


# --- figures read at scrape time ---------------------------------------------------------------


def queue_lengths() -> Iterable[Metric]:
    """Messages waiting in each Celery queue (``METRICS_QUEUES``); Redis brokers only."""
    url = settings.CELERY_BROKER_URL
    if not url.startswith(("redis://", "rediss://")):
        return []
    family = GaugeMetricFamily(
        "clientele_celery_queue_length", "Messages waiting in a Celery queue.", labels=["queue"]
    )
    client = redis.Redis.from_url(
        url, socket_timeout=REDIS_TIMEOUT, socket_connect_timeout=REDIS_TIMEOUT
    )
    try:
        pipe = client.pipeline(transaction=False)
        for queue in settings.METRICS_QUEUES:
            for step in _PRIORITY_STEPS:
                pipe.llen(queue if step == 0 else f"{queue}{_PRIORITY_SEPARATOR}{step}")
        counts = pipe.execute()
    finally:
        client.close()
    steps = len(_PRIORITY_STEPS)
    for index, queue in enumerate(settings.METRICS_QUEUES):
        family.add_metric([queue], sum(counts[index * steps : (index + 1) * steps]))
    return [family]


def outbox_backlog() -> Iterable[Metric]:
    row = OutboxEvent.objects.filter(delivered_at__isnull=True).aggregate(
        n=Count("pk"), oldest=Min("created_at")
    )
    age = (timezone.now() - row["oldest"]).total_seconds() if row["oldest"] else 0.0
    return [
        GaugeMetricFamily(
            "clientele_outbox_undelivered", "Domain events not yet delivered.", value=row["n"]
        ),
        GaugeMetricFamily(
            "clientele_outbox_oldest_undelivered_age_seconds",
            "Age of the oldest undelivered domain event (0 when none waits).",
            value=max(age, 0.0),
        ),
    ]


def schedule_kind(task: PeriodicTask) -> str:
    """``daily``, ``weekly`` or ``frequent`` (every few minutes or hours): alerts differ."""
    crontab = task.crontab
    if crontab is None:
        return "frequent"
    if crontab.day_of_week != "*":
        return "weekly"
    if crontab.hour.isdigit() and crontab.minute.isdigit():
        return "daily"
    return "frequent"


def job_runs() -> Iterable[Metric]:
    """For every enabled beat entry: when it last succeeded (0: never) and whether its last
    run failed."""
    labels = ["job", "task", "schedule"]
    success = GaugeMetricFamily(
        "clientele_job_last_success_timestamp_seconds",
        "Unix time a scheduled job last succeeded (0: never recorded).",
        labels=labels,
    )
    failed = GaugeMetricFamily(
        "clientele_job_last_run_failed", "1 when a scheduled job's last run failed.", labels=labels
    )
    runs = {run.name: run for run in JobRun.objects.all()}
    entries = PeriodicTask.objects.filter(enabled=True, one_off=False).select_related("crontab")
    for entry in entries.exclude(name="celery.backend_cleanup").order_by("name"):
        run = runs.get(entry.name)
        values = [entry.name, entry.task, schedule_kind(entry)]
        succeeded = run.last_succeeded_at.timestamp() if run and run.last_succeeded_at else 0
        success.add_metric(values, succeeded)
        failed.add_metric(values, 1 if run and run.last_state == "FAILURE" else 0)
    return [success, failed]


for _builtin in (queue_lengths, outbox_backlog, job_runs):
    collector_register(_builtin)


class _ScrapeCollector:
    """Runs every registered collection; one that fails is logged and counted, the others
    still report."""

    def collect(self) -> Iterable[Metric]:
        errors = GaugeMetricFamily(
            "clientele_metrics_collector_errors",
            "1 for a scrape-time collector that failed during this scrape.",
            labels=["collector"],
        )
        for collect in list(_collectors):
            name = getattr(collect, "__qualname__", repr(collect))
            try:
                families = list(collect())
            except Exception as exc:
                log.warning("metrics collector %s failed: %s", name, type(exc).__name__)
                errors.add_metric([name], 1)
                continue
            yield from families
        yield errors


class _ThisProcess:
    """The default registry's metrics (this process only), when not in multiprocess mode."""

    def collect(self) -> Iterable[Metric]:
        return REGISTRY.collect()


def scrape() -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)
    else:
        registry.register(_ThisProcess())
    registry.register(_ScrapeCollector())
    return generate_latest(registry)


def _authorised(request: HttpRequest, token: str) -> bool:
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode(), token.encode()
    )


@require_safe
def metrics_view(request: HttpRequest) -> HttpResponse:
    """``/metrics``: 404 without ``METRICS_TOKEN``, 401 without the right bearer token."""
    token = settings.METRICS_TOKEN
    if not token:
        return HttpResponse("Not found\n", status=404, content_type="text/plain")
    if not _authorised(request, token):
        response = HttpResponse("Unauthorized\n", status=401, content_type="text/plain")
        response.headers["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    started = time.monotonic()
    body = scrape()
    log.debug("metrics scraped in %.3f s", time.monotonic() - started)
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)


# --- the Celery worker's exporter --------------------------------------------------------------


def worker_exporter_start() -> bool:
    """In a Celery worker's main process, with ``CELERY_METRICS_PORT`` set: serve the task
    metrics of every pool process on that port (plain HTTP, no token: bind it to a private
    address, ``CELERY_METRICS_ADDR``). The pool processes count in ``PROMETHEUS_MULTIPROC_DIR``,
    which the worker needs for this: a directory of its own, emptied here before the pool starts."""
    port = settings.CELERY_METRICS_PORT
    if not port:
        return False
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        log.warning("CELERY_METRICS_PORT is set without PROMETHEUS_MULTIPROC_DIR: not served")
        return False
    # Before the pool forks: counts of a previous run of this worker must not add up.
    for stale in Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]).glob("*.db"):
        stale.unlink()
    registry = CollectorRegistry(auto_describe=False)
    MultiProcessCollector(registry)
    start_http_server(port, addr=settings.CELERY_METRICS_ADDR, registry=registry)
    log.info("task metrics served on %s:%s", settings.CELERY_METRICS_ADDR, port)
    return True


def worker_process_dead(pid: int | None) -> None:
    """A pool process ended: its live gauges leave the sums (counters and histograms stay)."""
    if pid and os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        mark_process_dead(pid)
