"""/metrics: guarded by a bearer token, request latency by view, Celery task durations and
failures, queue lengths, the outbox backlog, scheduled jobs' last success and the ledger
verification; several processes add up through PROMETHEUS_MULTIPROC_DIR."""

import datetime as dt
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import redis
from celery import shared_task
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from apps.core.models import JobRun, OutboxEvent
from apps.loyalty.models import LedgerVerification

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]
TOKEN = "scrape-token-9f8e7d6c"


@shared_task(name="tests.metrics_fails")
def fails(email: str) -> None:
    raise ValueError(f"no customer {email}")


@shared_task(name="tests.metrics_works")
def works() -> str:
    return "done"


@pytest.fixture
def scrape(client, settings):
    settings.METRICS_TOKEN = TOKEN

    def get() -> str:
        response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
        assert response.status_code == 200
        return response.content.decode()

    return get


def value(text: str, name: str, **labels: str) -> float | None:
    """The sample ``name{labels}`` in an exposition (labels in any order, others ignored)."""
    for line in text.splitlines():
        match = re.fullmatch(r"(\w+)(?:\{(.*)\})? (\S+)", line)
        if not match or match.group(1) != name:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', match.group(2) or ""))
        if all(found.get(key) == wanted for key, wanted in labels.items()):
            return float(match.group(3))
    return None


def test_metrics_do_not_exist_without_a_token(client, settings):
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 404


@pytest.mark.parametrize("header", [None, "Bearer wrong-token", f"Basic {TOKEN}", TOKEN])
def test_metrics_refuse_a_scrape_without_the_right_token(client, settings, header):
    settings.METRICS_TOKEN = TOKEN
    extra = {"HTTP_AUTHORIZATION": header} if header else {}
    response = client.get("/metrics", **extra)
    assert response.status_code == 401
    assert b"clientele" not in response.content


def test_metrics_answer_a_scraper_by_address_over_plain_http(client, settings):
    settings.METRICS_TOKEN = TOKEN
    settings.SECURE_SSL_REDIRECT = True
    settings.ALLOWED_HOSTS = ["crm.example.com"]
    response = client.get("/metrics", HTTP_HOST="10.0.3.7", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")


def test_request_latency_is_counted_by_view(client, scrape):
    client.get("/accounts/login/")
    text = scrape()
    assert (
        value(
            text,
            "django_http_requests_latency_seconds_by_view_method_count",
            view="account_login",
            method="GET",
        )
        or 0
    ) >= 1


def test_outbox_backlog_counts_undelivered_events_and_their_age(scrape):
    now = timezone.now()
    OutboxEvent.objects.create(
        id="00000000-0000-0000-0000-000000000001",
        name="a.b",
        created_at=now - dt.timedelta(minutes=10),
    )
    OutboxEvent.objects.create(
        id="00000000-0000-0000-0000-000000000002",
        name="a.b",
        created_at=now - dt.timedelta(hours=5),
        delivered_at=now,
    )
    text = scrape()
    assert value(text, "clientele_outbox_undelivered") == 1
    assert 600 <= value(text, "clientele_outbox_oldest_undelivered_age_seconds") < 700


def test_a_scheduled_job_run_is_recorded_and_reported(scrape):
    # Beat sends the entry's name in the periodic_task_name header (django-celery-beat).
    name = "core: deliver the event outbox (sweep)"
    works.apply(headers={"periodic_task_name": name})
    run = JobRun.objects.get(name=name)
    assert (run.task, run.last_state, run.last_error) == ("tests.metrics_works", "SUCCESS", "")
    assert run.last_succeeded_at is not None and run.last_duration >= 0

    fails.apply(args=["ann@example.com"], headers={"periodic_task_name": name}, throw=False)
    run.refresh_from_db()
    assert (run.last_state, run.last_error) == ("FAILURE", "ValueError")
    assert run.last_failed_at > run.last_succeeded_at

    text = scrape()
    assert value(text, "clientele_celery_task_failures_total", task="tests.metrics_fails") >= 1
    assert (
        value(
            text,
            "clientele_celery_task_duration_seconds_count",
            task="tests.metrics_works",
            state="SUCCESS",
        )
        >= 1
    )
    assert "ann@example.com" not in text


def test_every_enabled_schedule_entry_reports_its_last_success(scrape):
    entry = PeriodicTask.objects.get(task="loyalty.ledger_verify")
    never = value(scrape(), "clientele_job_last_success_timestamp_seconds", job=entry.name)
    assert never == 0
    works.apply(headers={"periodic_task_name": entry.name})
    text = scrape()
    when = value(
        text, "clientele_job_last_success_timestamp_seconds", job=entry.name, schedule="daily"
    )
    assert abs(when - timezone.now().timestamp()) < 60
    assert value(text, "clientele_job_last_run_failed", job=entry.name) == 0


def test_a_task_outside_the_schedule_records_no_job_run():
    works.apply()
    assert JobRun.objects.count() == 0


def test_the_newest_finished_ledger_verification_is_reported(scrape):
    assert value(scrape(), "clientele_ledger_verification_ok") is None
    now = timezone.now()
    LedgerVerification.objects.create(
        started_at=now - dt.timedelta(days=1), finished_at=now, ok=True
    )
    LedgerVerification.objects.create(started_at=now, finished_at=now, ok=False, fault_count=3)
    LedgerVerification.objects.create(started_at=now + dt.timedelta(seconds=1))  # running
    text = scrape()
    assert value(text, "clientele_ledger_verification_ok") == 0
    assert value(text, "clientele_ledger_verification_faults") == 3


def test_queue_lengths_are_read_from_a_redis_broker(scrape, settings):
    url = os.environ.get("REDIS_URL")
    if not url:
        pytest.skip("needs Redis: set REDIS_URL")
    settings.CELERY_BROKER_URL = url
    settings.METRICS_QUEUES = ["test-metrics-default", "test-metrics-bulk"]
    client = redis.Redis.from_url(url)
    try:
        client.lpush("test-metrics-bulk", "a", "b", "c")
        client.lpush("test-metrics-bulk\x06\x163", "d")  # kombu's key for priority 3
        text = scrape()
    finally:
        client.delete("test-metrics-bulk", "test-metrics-bulk\x06\x163")
    assert value(text, "clientele_celery_queue_length", queue="test-metrics-bulk") == 4
    assert value(text, "clientele_celery_queue_length", queue="test-metrics-default") == 0


def test_a_broker_other_than_redis_reports_no_queue_lengths(scrape, settings):
    settings.CELERY_BROKER_URL = "memory://"
    text = scrape()
    assert value(text, "clientele_celery_queue_length") is None
    assert value(text, "clientele_metrics_collector_errors") is None


def test_a_failing_collector_does_not_stop_the_others(scrape, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    text = scrape()
    assert value(text, "clientele_metrics_collector_errors", collector="queue_lengths") == 1
    assert value(text, "clientele_outbox_undelivered") == 0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


COUNT_ONE_FAILURE = """
import django; django.setup()
from apps.core.metrics import TASK_FAILURES
TASK_FAILURES.labels(task="tests.elsewhere").inc()
"""
# A worker's main process: start the exporter (it empties the directory), then two pool
# processes count a failure each; the exporter and the web's scrape both report the sum.
SERVE = f"""
import subprocess, sys, urllib.request
import django; django.setup()
from apps.core import metrics
from django.conf import settings
assert metrics.worker_exporter_start()
for _ in range(2):
    subprocess.run([sys.executable, "-c", {COUNT_ONE_FAILURE!r}], check=True, timeout=60)
body = urllib.request.urlopen(f"http://127.0.0.1:{{settings.CELERY_METRICS_PORT}}/").read()
sys.stdout.write(body.decode() + "\\n----\\n" + metrics.scrape().decode())
"""


def test_processes_add_up_in_multiprocess_mode(tmp_path):
    """Processes (gunicorn workers, a worker's pool) count apart; the sums are reported, and
    what an earlier run left in the directory is not."""
    (tmp_path / "counter_999999.db").write_bytes(b"stale")
    env = os.environ | {
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path),
        "CELERY_METRICS_PORT": str(_free_port()),
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
    }
    served = subprocess.run(
        [sys.executable, "-c", SERVE],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    exporter, scraped = served.stdout.split("\n----\n")
    for text in (exporter, scraped):
        assert value(text, "clientele_celery_task_failures_total", task="tests.elsewhere") == 2
