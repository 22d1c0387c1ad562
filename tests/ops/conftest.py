"""What the operations tests share: databases of their own made from the migrated test database,
``manage.py`` run in a child process against a given database, and the real worker and beat
processes the fault tests start (Redis as the broker, the test database)."""

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from celery import Celery
from django.conf import settings
from django.core.management import call_command
from django.db import connection, connections

ROOT = Path(__file__).resolve().parent.parent.parent
WORKER_SETTINGS = "tests.ops.worker_settings"


@pytest.fixture(autouse=True)
def _django_db_marker(request, django_db_blocker) -> None:
    """pytest-django's own fixture of this name, with one step first for the fault tests, whose
    ``serialized_rollback`` reloads the migrated rows (roles, beat schedules, the configuration
    version) at set-up: the database must be empty for that. It is, after another test that
    rolled back its data the same way; after a plain transactional test it holds the content
    types and permissions its flush made again under new ids, and the reload would collide with
    them. So the database is emptied here first (no ``post_migrate``), whatever ran before."""
    marker = request.node.get_closest_marker("django_db")
    if marker is None:
        return
    if marker.kwargs.get("serialized_rollback"):
        request.getfixturevalue("django_db_setup")
        with django_db_blocker.unblock():
            call_command(
                "flush",
                interactive=False,
                verbosity=0,
                reset_sequences=False,
                inhibit_post_migrate=True,
            )
    request.getfixturevalue("_django_db_helper")


def server_url(dbname: str) -> str:
    """A libpq URL for ``dbname`` on the test database's server."""
    db = settings.DATABASES["default"]
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgresql://{auth}@{db['HOST'] or 'localhost'}:{db['PORT'] or 5432}/{dbname}"


def admin_execute(sql: str) -> None:
    with psycopg.connect(server_url("postgres"), autocommit=True) as conn:
        conn.execute(sql)


@pytest.fixture
def scratch_databases(django_db_setup, django_db_blocker) -> Iterator[Callable[..., str]]:
    """``make(template=False)`` → the name of a new database, dropped after the test: empty, or
    a copy of the migrated test database (``CREATE DATABASE … TEMPLATE``, far faster than
    migrating)."""
    made: list[str] = []

    def make(*, template: bool = False) -> str:
        name = f"{settings.DATABASES['default']['NAME']}_ops_{uuid.uuid4().hex[:8]}"
        source = ""
        if template:
            with django_db_blocker.unblock():
                connections.close_all()  # a template must have no sessions (the replica too)
            source = f" TEMPLATE {connection.settings_dict['NAME']}"
        for attempt in range(10):
            try:
                admin_execute(f'CREATE DATABASE "{name}"{source}')
                break
            except psycopg.errors.ObjectInUse:  # a session of an earlier test still closing
                if attempt == 9:
                    raise
                time.sleep(0.5)
        made.append(name)
        return name

    yield make
    for name in made:
        admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _child_env(dbname: str) -> dict[str, str]:
    env = os.environ | {
        "DATABASE_URL": server_url(dbname),
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
    }
    env.pop("DATABASE_REPLICA_URL", None)
    return env


def django_script(code: str, *, dbname: str, timeout: int = 300) -> str:
    """Run ``code`` after ``django.setup()`` in a child process on database ``dbname``."""
    done = subprocess.run(
        [sys.executable, "-c", "import django\ndjango.setup()\n" + code],
        cwd=ROOT,
        env=_child_env(dbname),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def manage(*args: str, dbname: str, check: bool = True, timeout: int = 300):
    """``manage.py ARGS`` in a child process on database ``dbname`` (test settings)."""
    env = _child_env(dbname)
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if check and done.returncode != 0:
        raise AssertionError(f"manage.py {' '.join(args)}: {done.returncode}\n{done.stderr}")
    return done


def pg_tools_missing() -> str | None:
    missing = [t for t in ("pg_dump", "pg_restore", "psql") if shutil.which(t) is None]
    return (
        f"needs the PostgreSQL client tools: {', '.join(missing)} not on PATH" if missing else None
    )


def stop_group(proc: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
    """Signal ``proc``'s whole process group (a worker and its pool children)."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def wait_for(predicate: Callable[[], object], *, timeout: float, step: float = 0.2, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def redis_missing() -> str | None:
    url = settings.REDIS_URL
    if not url:
        return "needs Redis as the broker: set REDIS_URL (CI does)"
    try:
        import redis

        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except Exception as exc:  # any failure to reach it is a reason to skip
        return f"needs Redis at REDIS_URL: {exc}"
    return None


def broker_client() -> Celery:
    """A Celery client on the real broker with the project's routes (the test process's own app
    is eager, on the in-memory broker)."""
    app = Celery("ops-client", broker=settings.REDIS_URL, set_as_current=False)
    app.conf.update(
        task_default_queue=settings.CELERY_TASK_DEFAULT_QUEUE,
        task_routes=settings.CELERY_TASK_ROUTES,
        task_serializer="json",
    )
    return app


def queued(queue: str) -> int:
    """Messages waiting in ``queue`` on the broker (Redis list)."""
    import redis

    return redis.Redis.from_url(settings.REDIS_URL).llen(queue)


class Processes:
    """Real ``celery -A config worker`` / ``beat`` processes on the test database; each in a
    process group of its own, so a SIGKILL takes the worker and its pool children at once."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.procs: list[subprocess.Popen] = []

    def env(self, **extra: str) -> dict[str, str]:
        env = os.environ | {
            "DJANGO_SETTINGS_MODULE": WORKER_SETTINGS,
            "OPS_DB_NAME": connection.settings_dict["NAME"],
        }
        env.pop("DATABASE_REPLICA_URL", None)
        return env | extra

    def start(self, *args: str, log: str, **extra: str) -> subprocess.Popen:
        out = (self.tmp_path / log).open("w")
        proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", *args],
            cwd=ROOT,
            env=self.env(**extra),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        proc.log = self.tmp_path / log  # type: ignore[attr-defined]
        self.procs.append(proc)
        return proc

    def worker(self, *, name: str, wait: bool = True, **extra: str) -> subprocess.Popen:
        proc = self.start(
            "worker",
            "--queues=default,bulk",
            "--pool=prefork",
            "--concurrency=1",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            f"--hostname={name}@ops",
            "--loglevel=INFO",
            log=f"{name}.log",
            **extra,
        )
        if wait:
            wait_for(
                lambda: proc.poll() is not None or " ready." in proc.log.read_text(),
                timeout=90,
                what=f"worker {name} to start",
            )
            assert proc.poll() is None, proc.log.read_text()
        return proc

    def log(self, proc: subprocess.Popen) -> str:
        return proc.log.read_text()  # type: ignore[attr-defined]

    def stop_all(self) -> None:
        for proc in self.procs:
            stop_group(proc, signal.SIGKILL)


@pytest.fixture
def processes(tmp_path) -> Iterator[Processes]:
    if reason := redis_missing():
        pytest.skip(reason)
    procs = Processes(tmp_path)
    yield procs
    procs.stop_all()
