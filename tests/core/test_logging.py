"""The request id (accepted when sane, else made; echoed; in every log line; carried into
Celery tasks) and the production log format (JSON lines by default, LOG_FORMAT=plain)."""

import io
import json
import logging
import logging.config
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from celery import shared_task, signals

from apps.core import request_id
from apps.core.request_id import RequestIdFilter, request_id_bound, request_id_get
from config.settings import base

ROOT = Path(__file__).resolve().parents[2]
HEX32 = re.compile(r"[0-9a-f]{32}")


@shared_task(name="tests.request_id_seen")
def seen() -> str:
    logging.getLogger("tests.task").warning("task ran")
    return request_id_get()


@pytest.fixture
def log_lines():
    """Root's output through base settings' console format and request-id filter (the test
    settings log nothing)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter(base.LOGGING["formatters"]["plain"]["format"]))
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    yield lambda: stream.getvalue().splitlines()
    root.removeHandler(handler)


@pytest.mark.parametrize("sent", ["abc-123", "a" * 128, "0b1c:edge.lb-1_x"])
def test_a_sane_incoming_request_id_is_kept_and_echoed(client, sent):
    response = client.get("/accounts/login/", HTTP_X_REQUEST_ID=sent)
    assert response["X-Request-ID"] == sent


@pytest.mark.parametrize(
    "sent", ["", "a" * 129, "two words", "x\r\nSet-Cookie: a=b", "-leading-dash", "ид"]
)
def test_anything_else_gets_a_new_id(client, sent):
    response = client.get("/accounts/login/", HTTP_X_REQUEST_ID=sent)
    assert HEX32.fullmatch(response["X-Request-ID"])


def test_each_request_gets_its_own_id(client):
    first = client.get("/accounts/login/")["X-Request-ID"]
    assert first != client.get("/accounts/login/")["X-Request-ID"]
    assert request_id_get() == request_id.NONE  # nothing left bound after the request


@pytest.mark.django_db
def test_every_log_line_of_a_request_carries_its_id(client, log_lines):
    # Django writes the "Not Found" line after the middleware has returned.
    client.get("/no-such-page/", HTTP_X_REQUEST_ID="req-42")
    lines = [line for line in log_lines() if "Not Found: /no-such-page/" in line]
    assert len(lines) == 1 and "[req-42]" in lines[0]


def test_a_redirect_by_security_middleware_carries_the_id(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    response = client.get("/accounts/login/", HTTP_X_REQUEST_ID="req-43")
    assert response.status_code == 301 and response["X-Request-ID"] == "req-43"


def test_a_queued_task_carries_the_id_in_its_headers():
    published = []

    def capture(headers=None, **kwargs):
        published.append(dict(headers))

    signals.before_task_publish.connect(capture)
    app = seen.app
    app.conf.task_always_eager = False
    try:
        with request_id_bound("req-44"):
            seen.apply_async()
        seen.apply_async()  # outside any request
    finally:
        app.conf.task_always_eager = True
        signals.before_task_publish.disconnect(capture)
    assert published[0]["request_id"] == "req-44"
    assert "request_id" not in published[1]


def test_a_worker_binds_the_carried_id_while_the_task_runs(log_lines):
    result = seen.apply(headers={"request_id": "req-45"})
    assert result.result == "req-45"
    assert any("[req-45] task ran" in line for line in log_lines())
    assert request_id_get() == request_id.NONE


@pytest.mark.parametrize("headers", [None, {"request_id": "bad id\nforged line"}])
def test_a_task_without_a_sane_id_runs_under_its_task_id(headers):
    result = seen.apply(headers=headers, task_id="3f0c7e1a-task")
    assert result.result == "3f0c7e1a-task"


def test_an_eager_task_keeps_the_id_of_the_request_that_queued_it():
    with request_id_bound("req-46"):
        assert seen.apply().result == "req-46"
        assert request_id_get() == "req-46"


# --- the production format ------------------------------------------------------------------

KEYS = {
    "DJANGO_SECRET_KEY": "k3y-Q" * 12,
    "LEDGER_KEY": "L3dg3r-k3y-" * 4,
    "ERASURE_DIGEST_KEY": "Er4se-k3y-" * 4,
    "EMAIL_URL": "smtp+tls://user:pass@smtp.example.com:587",
}
EMIT = """
import logging, logging.config
from config.settings import prod
logging.config.dictConfig(prod.LOGGING)
from apps.core.request_id import request_id_bound
with request_id_bound("req-47"):
    logging.getLogger("apps.demo").warning("stock low for %s", "gold-mug")
"""


def _prod_log(**env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in {"LOG_FORMAT", "SENTRY_DSN"}}
    return subprocess.run(
        [sys.executable, "-c", EMIT],
        cwd=ROOT,
        env=clean | KEYS | env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_production_logs_json_lines_with_the_request_id():
    result = _prod_log()
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stderr.strip())
    assert record["message"] == "stock low for gold-mug"
    assert (record["level"], record["logger"], record["request_id"]) == (
        "WARNING",
        "apps.demo",
        "req-47",
    )
    assert "time" in record


def test_production_logs_plain_lines_on_request():
    result = _prod_log(LOG_FORMAT="plain")
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip().endswith("WARNING apps.demo [req-47] stock low for gold-mug")


def test_production_refuses_an_unknown_log_format():
    result = _prod_log(LOG_FORMAT="xml")
    assert result.returncode != 0
    assert "LOG_FORMAT must be 'json' or 'plain'" in result.stderr
