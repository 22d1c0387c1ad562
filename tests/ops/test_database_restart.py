"""PostgreSQL restarted in the middle of a redemption: nothing of it is left half written, and
the client's retry (same idempotency key) redeems exactly once.

It runs on a private PostgreSQL cluster the test starts (initdb + pg_ctl on a free port, as the
``postgres`` user), never on the shared server; the data is the test database's, copied there
with scripts/backup.sh and scripts/restore.sh."""

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import psycopg
import pytest

from apps.loyalty.services import points_adjust
from tests.customers.factories import CustomerFactory
from tests.loyalty.factories import ProgrammeFactory, RewardFactory
from tests.ops.conftest import ROOT, server_url, wait_for

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def _bindir() -> Path | None:
    candidates = []
    if pg_config := shutil.which("pg_config"):
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True)
        candidates.append(Path(out.stdout.strip()))
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    for path in candidates:
        if (path / "initdb").exists() and (path / "pg_ctl").exists():
            return path
    return None


def _skip_reason() -> str | None:
    if _bindir() is None:
        return "needs the PostgreSQL server binaries (initdb, pg_ctl) to start a private cluster"
    if os.geteuid() != 0 or shutil.which("runuser") is None:
        return "needs root and runuser to start a private cluster as the postgres user"
    if any(shutil.which(t) is None for t in ("pg_dump", "pg_restore", "psql")):
        return "needs the PostgreSQL client tools (pg_dump, pg_restore, psql)"
    return None


class Cluster:
    def __init__(self) -> None:
        self.bindir = _bindir()
        self.root = Path(tempfile.mkdtemp(prefix="clientele-pg-"))
        self.data = self.root / "data"
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        shutil.chown(self.root, "postgres")
        self.root.chmod(0o700)

    def pg(self, tool: str, *args: str) -> None:
        subprocess.run(
            ["runuser", "-u", "postgres", "--", str(self.bindir / tool), *args],
            check=True,
            capture_output=True,
            timeout=120,
            cwd=self.root,
        )

    def ctl(self, *args: str) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self.pg("pg_ctl", "-D", str(self.data), "-l", str(self.root / "log"), "-w", "-t", "60",
                "-o", options, *args)  # fmt: skip

    def url(self, db: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{db}"

    def start(self) -> None:
        self.pg("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8")
        self.ctl("start")

    def stop(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.ctl("stop", "-m", "immediate")
        shutil.rmtree(self.root, ignore_errors=True)


REDEEM = """
import sys, time
import django
django.setup()
from django.db import connection, DatabaseError, InterfaceError
from apps.customers.models import Customer
from apps.loyalty.models import Reward
from apps.loyalty.services import reward_redeem
customer_id, reward_id = map(int, sys.argv[1:3])
customer = Customer.objects.get(pk=customer_id)
reward = Reward.objects.get(pk=reward_id)
print("ready", flush=True)
input()
first = None
for attempt in range(120):
    try:
        first = reward_redeem(customer=customer, reward=reward, key="ops-restart").pk
        break
    except (DatabaseError, InterfaceError) as exc:
        print("retry", type(exc).__name__, flush=True)
        connection.close()
        time.sleep(0.5)
again = reward_redeem(customer=customer, reward=reward, key="ops-restart").pk
print("redeemed", first, again, flush=True)
"""


def _scalar(url: str, sql: str, *params):
    with psycopg.connect(url) as conn:
        return conn.execute(sql, params).fetchone()[0]


@pytest.mark.skipif(_skip_reason() is not None, reason=_skip_reason() or "")
def test_a_database_restart_mid_redemption_leaves_no_partial_rows_and_the_retry_redeems_once(
    manager, tmp_path
):
    from django.db import connection

    ProgrammeFactory()
    customer = CustomerFactory()
    points_adjust(customer=customer, points=300, reason="ops", actor=manager)
    reward = RewardFactory(cost_points=100, stock=5)
    dump = tmp_path / "copy.dump"
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    test_db = server_url(connection.settings_dict["NAME"])
    subprocess.run([str(ROOT / "scripts" / "backup.sh"), str(dump)], env=env | {"DATABASE_URL": test_db}, check=True, capture_output=True)  # fmt: skip

    cluster = Cluster()
    try:
        cluster.start()
        with psycopg.connect(cluster.url(), autocommit=True) as conn:
            conn.execute("CREATE DATABASE clientele")
        db = cluster.url("clientele")
        restore = [str(ROOT / "scripts" / "restore.sh"), str(dump), db]
        subprocess.run(restore, env=env, check=True, capture_output=True)

        child = subprocess.Popen(
            [sys.executable, "-c", REDEEM, str(customer.pk), str(reward.pk)],
            cwd=ROOT,
            env=env | {"DATABASE_URL": db, "DJANGO_SETTINGS_MODULE": "config.settings.test"},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert child.stdout.readline().strip() == "ready", child.stderr.read()
            # Another session holds the account's row lock: the redemption starts, takes its
            # first steps in its transaction and waits there, mid-way.
            holder = psycopg.connect(db)
            holder.execute(
                "SELECT 1 FROM loyalty_loyaltyaccount WHERE customer_id = %s FOR UPDATE",
                [customer.pk],
            )
            child.stdin.write("\n")
            child.stdin.flush()
            wait_for(
                lambda: _scalar(
                    db, "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                ),
                timeout=60,
                what="the redemption to wait on the row lock",
            )
            cluster.ctl("restart", "-m", "fast")  # kills both sessions mid-transaction
            holder.close()
            out, err = child.communicate(timeout=120)
        finally:
            if child.poll() is None:
                child.kill()
        assert child.returncode == 0, err
        assert "retry" in out, out  # the restart did hit the redemption
        first, again = out.split("redeemed", 1)[1].split()
        assert first == again  # the retry after success returns the same redemption

        assert _scalar(db, "SELECT count(*) FROM loyalty_redemption") == 1
        assert _scalar(db, "SELECT stock FROM loyalty_reward WHERE id = %s", reward.pk) == 4
        account = "SELECT balance FROM loyalty_loyaltyaccount WHERE customer_id = %s"
        assert _scalar(db, account, customer.pk) == 200
        spends = "SELECT count(*) FROM loyalty_pointstransaction WHERE redemption_id IS NOT NULL"
        assert _scalar(db, spends) == 1
        verified = subprocess.run(
            [sys.executable, "manage.py", "verify_ledger"],
            cwd=ROOT,
            env=env | {"DATABASE_URL": db, "DJANGO_SETTINGS_MODULE": "config.settings.test"},
            capture_output=True,
            text=True,
        )
        assert verified.returncode == 0, verified.stdout + verified.stderr
    finally:
        cluster.stop()
