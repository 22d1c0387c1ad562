"""The restore drill (deploy/RUNBOOK.md, "Backups and restores"): a seeded database is dumped by
scripts/backup.sh, restored by scripts/restore.sh into a new database, and the copy passes
``verify_ledger`` against the digest taken before the dump, with the same rows in every table."""

import os
import subprocess

import psycopg
import pytest

from tests.ops.conftest import ROOT, django_script, manage, pg_tools_missing, server_url

pytestmark = [
    pytest.mark.postgres,
    # No django_db mark: the drill works on databases of its own (made, migrated and dropped
    # by the scratch_databases fixture) and never touches the test database's rows.
    pytest.mark.skipif(pg_tools_missing() is not None, reason=pg_tools_missing() or ""),
]

BACKUP = str(ROOT / "scripts" / "backup.sh")
RESTORE = str(ROOT / "scripts" / "restore.sh")
KEY_TABLES = (
    "customers_customer",
    "loyalty_loyaltyaccount",
    "loyalty_pointstransaction",
    "loyalty_pointslot",
    "accounts_user",
    "django_migrations",
)


def _run(*cmd: str, **env: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    return subprocess.run(cmd, env=base | env, capture_output=True, text=True, timeout=300)


def _row_counts(dbname: str) -> dict[str, int]:
    with psycopg.connect(server_url(dbname)) as conn:
        tables = [
            name
            for (name,) in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
            )
        ]
        return {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}


def test_a_restored_backup_passes_verify_ledger_against_the_digest_taken_before(
    scratch_databases, tmp_path
):
    # Migrated afresh, not copied from the test database: a transactional test earlier in the
    # run empties that one, data migrations (role groups, beat schedule) included.
    source = scratch_databases()
    digest = tmp_path / "digest.json"
    # One child process for all three (Django's start-up is most of each command's time).
    django_script(
        "from django.core.management import call_command\n"
        "call_command('migrate', interactive=False, verbosity=0)\n"
        "call_command('seed_demo', customers=4, force=True, verbosity=0)\n"
        f"call_command('ledger_digest', out={str(digest)!r})\n",
        dbname=source,
    )
    dump = tmp_path / "clientele.dump"

    done = _run(BACKUP, str(dump), DATABASE_URL=server_url(source))
    assert done.returncode == 0, done.stderr
    assert dump.stat().st_size > 0 and (dump.stat().st_mode & 0o077) == 0  # owner only

    copy = scratch_databases()
    done = _run(RESTORE, str(dump), server_url(copy))
    assert done.returncode == 0, done.stderr

    verified = manage("verify_ledger", "--digest", str(digest), dbname=copy, check=False)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    counts = _row_counts(source)
    assert _row_counts(copy) == counts
    assert all(counts[t] > 0 for t in KEY_TABLES), {t: counts[t] for t in KEY_TABLES}

    # A second restore into the now non-empty copy is refused and changes nothing ...
    refused = _run(RESTORE, str(dump), server_url(copy))
    assert refused.returncode == 3 and "not empty" in refused.stderr
    assert _row_counts(copy) == counts
    # ... unless forced, which replaces the objects the dump holds.
    forced = _run(RESTORE, "--force", str(dump), server_url(copy))
    assert forced.returncode == 0, forced.stderr
    assert _row_counts(copy) == counts

    # The check can fail: a copy missing its newest ledger row does not pass against the digest.
    with psycopg.connect(server_url(copy)) as conn:
        conn.execute("SET session_replication_role = replica")  # past the append-only trigger
        conn.execute(
            "DELETE FROM loyalty_pointstransaction"
            " WHERE id = (SELECT max(id) FROM loyalty_pointstransaction)"
        )
    tampered = manage("verify_ledger", "--digest", str(digest), dbname=copy, check=False)
    assert tampered.returncode != 0


def test_the_scripts_refuse_bad_usage_with_distinct_exit_codes(scratch_databases, tmp_path):
    assert _run(BACKUP).returncode == 2  # no FILE
    no_url = _run(BACKUP, str(tmp_path / "x.dump"))
    assert no_url.returncode == 2 and "DATABASE_URL" in no_url.stderr
    assert _run(BACKUP, str(tmp_path / "x.dump"), DATABASE_URL="sqlite:///x").returncode == 2
    assert not (tmp_path / "x.dump").exists()

    target = server_url(scratch_databases())
    assert _run(RESTORE, str(tmp_path / "x.dump")).returncode == 2  # no target
    assert _run(RESTORE, str(tmp_path / "missing.dump"), target).returncode == 4
    (tmp_path / "junk.dump").write_text("not a dump")
    assert _run(RESTORE, str(tmp_path / "junk.dump"), target).returncode == 4

    # A dump of a database that does not exist fails and leaves no file behind.
    failed = _run(BACKUP, str(tmp_path / "y.dump"), DATABASE_URL=server_url("no_such_db_ops"))
    assert failed.returncode == 1
    assert list(tmp_path.glob("*y.dump*")) == [] and list(tmp_path.glob(".backup.*")) == []
