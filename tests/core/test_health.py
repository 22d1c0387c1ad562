"""/healthz, /readyz and ``manage.py doctor``: answered for a load balancer probing by address
over plain HTTP, cheap, time-bounded, and naming what failed."""

import json
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, connections

from apps.core import health

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _probers_closed():
    """The probe threads keep their database connections: closed after each test, so that
    none holds the test database open when it is dropped."""
    yield
    health.probers_close()


def _backend_pid() -> str:
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return str(cursor.fetchone()[0])


@pytest.fixture
def production_like(settings):
    """What production sets and a probe by address over plain HTTP would trip on."""
    settings.SECURE_SSL_REDIRECT = True
    settings.ALLOWED_HOSTS = ["crm.example.com"]
    return settings


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A TCP port that accepts connections (the kernel's backlog) and never says a word: a
    hung broker."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    yield server.getsockname()[1]
    server.close()


@pytest.fixture
def closed_port() -> int:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return port


def test_healthz_answers_a_probe_by_address_over_plain_http(client, production_like):
    response = client.get("/healthz", HTTP_HOST="10.0.3.7")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response["Cache-Control"] == "no-store"
    # The same request to a page is refused: the settings above are in force.
    assert client.get("/", HTTP_HOST="10.0.3.7").status_code == 400
    assert client.get("/", HTTP_HOST="crm.example.com").status_code == 301


def test_healthz_touches_no_database_and_sets_no_cookie(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.cookies == {}


def test_readyz_answers_a_probe_by_address_with_every_check(client, production_like):
    response = client.get("/readyz", HTTP_HOST="10.0.3.7")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "ok" and body["failing"] == []
    assert set(body["checks"]) == {"database", "cache", "broker", "migrations"}
    assert all(check["ok"] for check in body["checks"].values())


def test_readyz_names_a_hung_broker_and_does_not_wait_for_it(client, settings, silent_port):
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{silent_port}/0"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {}
    settings.READINESS_CHECK_TIMEOUT = 0.5
    started = time.monotonic()
    response = client.get("/readyz")
    elapsed = time.monotonic() - started
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "fail" and body["failing"] == ["broker"]
    assert body["checks"]["broker"] == {
        "ok": False,
        "ms": body["checks"]["broker"]["ms"],
        "error": "timeout",
    }
    assert body["checks"]["database"]["ok"] and body["checks"]["cache"]["ok"]
    assert elapsed < 2.0


def test_readyz_does_not_tell_the_world_where_the_broker_lives(client, settings, closed_port):
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{closed_port}/0"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {}
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["failing"] == ["broker"]
    assert str(closed_port) not in response.content.decode()


def test_readyz_refuses_other_methods(client):
    assert client.post("/readyz").status_code in (403, 405)  # CSRF or the view: never a run
    assert client.options("/healthz").status_code == 405


def test_unapplied_migrations_are_named():
    health._migrated.clear()
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM django_migrations WHERE app = 'core' AND name = '0009_job_run'")
    with pytest.raises(RuntimeError, match=r"1 unapplied: core\.0009_job_run"):
        health.check_migrations()
    assert not health._migrated.is_set()


def test_applied_migrations_are_checked_once_per_process(django_assert_num_queries):
    health._migrated.clear()
    assert health.check_migrations() == "all applied"
    with django_assert_num_queries(0):
        assert health.check_migrations() == "all applied"


def test_doctor_prints_each_check_and_passes(capsys):
    call_command("doctor")
    out = capsys.readouterr().out
    for name in ("database", "cache", "broker", "migrations"):
        assert f"OK    {name}" in out
    assert "All checks passed." in out


def test_doctor_says_what_failed_and_how_to_fix_it(settings, closed_port, capsys):
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{closed_port}/0"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {}
    with pytest.raises(CommandError, match=r"1 problem\(s\): broker") as failed:
        call_command("doctor", timeout=1.0)
    assert failed.value.returncode == 1
    out = capsys.readouterr().out
    assert "FAIL  broker      " in out and str(closed_port) in out  # the person sees where
    assert "fix: Is the Celery broker running" in out
    assert "OK    database" in out


def test_readyz_answer_is_json(client):
    response = client.get("/readyz")
    assert response["Content-Type"] == "application/json"
    json.loads(response.content)


@pytest.mark.postgres
def test_probes_keep_their_database_connection_until_a_check_fails():
    pid = health.Check("pid", _backend_pid, fix="")
    first, second = health._run_bounded(pid, 5), health._run_bounded(pid, 5)
    assert first.ok and first.detail == second.detail  # no new connection per probe

    def broken() -> str:
        _backend_pid()
        raise RuntimeError("the database said no")

    failed = health._run_bounded(health.Check("pid", broken, fix=""), 5)
    assert not failed.ok and failed.kind == "RuntimeError"
    assert health._run_bounded(pid, 5).detail != first.detail  # connected afresh


def test_a_stuck_check_does_not_block_the_next_probe():
    released = threading.Event()
    stuck = health.Check("stuck", lambda: str(released.wait(10)), fix="")
    started = time.monotonic()
    result = health._run_bounded(stuck, 0.2)
    assert not result.ok and result.kind == "timeout"
    quick = health._run_bounded(health.Check("stuck", lambda: "fine", fix=""), 2)
    assert quick.ok and quick.detail == "fine" and time.monotonic() - started < 2
    released.set()
