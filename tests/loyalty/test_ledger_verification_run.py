"""The nightly ledger verification: a record per run, the signed digest e-mailed to every
Manager, faults flagged; and the migration that re-chained the SHA-256 ledger under the key."""

import json
import types
from importlib import import_module
from smtplib import SMTPException

import pytest
from django.apps import apps
from django.core import mail
from django.core.management import call_command
from django.db import connection

from apps.accounts import roles
from apps.loyalty import tasks
from apps.loyalty.digest import digest_problems
from apps.loyalty.ledger import ledger_key_id
from apps.loyalty.models import LedgerVerification, LoyaltyAccount, PointsTransaction
from apps.loyalty.services import bonus_award, ledger_checks
from apps.loyalty.verification import ledger_faults
from tests.accounts.factories import UserFactory
from tests.conftest import make_staff
from tests.customers.factories import CustomerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def ledger(programme):
    members = [CustomerFactory() for _ in range(2)]
    for i, customer in enumerate(members):
        bonus_award(customer=customer, points=100 + i, key=f"n:{i}:a", reason="test")
        bonus_award(customer=customer, points=10, key=f"n:{i}:b", reason="test")
    return [LoyaltyAccount.objects.get(customer=c) for c in members]


@pytest.fixture
def managers(manager):
    second = make_staff(roles.MANAGER, email="second.manager@test.local", full_name="Second")
    make_staff(roles.MANAGER, email="left@test.local", is_active=False)  # left the company
    make_staff(roles.SUPPORT_AGENT, email="agent.only@test.local")
    UserFactory(email="member.only@test.local")
    return [manager, second]


def _tamper(account):
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute(
                "ALTER TABLE loyalty_pointstransaction "
                "DISABLE TRIGGER loyalty_pointstransaction_append_only"
            )
    PointsTransaction.objects.filter(account=account).update(points=500)


def test_nightly_run_records_the_result_and_mails_the_signed_digest_to_managers(
    ledger, managers, tmp_path
):
    run_id = tasks.ledger_verify.delay().get()
    run = LedgerVerification.objects.get(pk=run_id)
    assert (run.ok, run.fault_count, run.faults) == (True, 0, "")
    assert (run.accounts_checked, run.rows_checked, run.chains) == (2, 4, 2)
    assert run.finished_at >= run.started_at
    assert (run.key_id, run.digest_sent_to) == (ledger_key_id(), 2)

    assert sorted(m.to[0] for m in mail.outbox) == sorted(u.email for u in managers)
    message = mail.outbox[0]
    assert message.subject == "[Clientele] Ledger verified: no faults"
    assert "found no faults. Checked: 2 accounts, 4 ledger rows." in message.body
    assert run.merkle_root in message.body
    ((filename, content, mimetype),) = message.attachments
    assert filename == f"ledger-digest-{run.started_at:%Y%m%dT%H%M%SZ}.json"
    assert mimetype == "application/json"
    digest = json.loads(content)
    assert digest_problems(digest) == []
    assert digest["merkle_root"] == run.merkle_root and digest["rows"] == 4

    # The attachment is the evidence verify_ledger --digest works from.
    path = tmp_path / filename
    path.write_text(content)
    call_command("verify_ledger", digest=str(path))


def test_a_faulty_ledger_is_recorded_and_the_managers_are_told(ledger, managers):
    _tamper(ledger[1])
    run = LedgerVerification.objects.get(pk=tasks.ledger_verify.delay().get())
    faults = list(ledger_faults())
    assert run.ok is False and run.fault_count == len(faults) > 0
    assert run.fault_lines == faults
    assert len(mail.outbox) == 2
    message = mail.outbox[0]
    assert message.subject == f"[Clientele] Ledger fault: {len(faults)} problems found"
    assert f"found {len(faults)} faults" in message.body
    assert faults[0] in message.body
    assert len(message.attachments) == 1  # the digest still records what is there


def test_only_the_first_faults_are_kept(ledger, managers, monkeypatch):
    _tamper(ledger[0])
    _tamper(ledger[1])
    monkeypatch.setattr(ledger_checks, "FAULTS_KEPT", 3)
    run = ledger_checks.ledger_verification_run()
    assert len(run.fault_lines) == 3 and run.fault_count > 3
    assert f"… and {run.fault_count - 3} more." in mail.outbox[0].body


def test_a_mail_server_failure_leaves_the_run_recorded_with_nobody_mailed(
    ledger, managers, monkeypatch
):
    def refuse(self, messages):
        raise SMTPException("relay refused")

    monkeypatch.setattr("django.core.mail.backends.locmem.EmailBackend.send_messages", refuse)
    run = LedgerVerification.objects.get(pk=tasks.ledger_verify.delay().get())
    assert (run.ok, run.digest_sent_to) == (True, 0)
    assert mail.outbox == []


def test_an_overlapping_run_is_skipped(ledger, managers):
    with tasks.job_lock("ledger-verify"):
        assert tasks.ledger_verify.delay().get() is None
    assert LedgerVerification.objects.count() == 0 and mail.outbox == []


# --- migration 0007: the SHA-256 chain re-chained under the key ---------------------------------


def test_the_migration_rechains_intact_sha256_chains_and_leaves_broken_ones(ledger):
    migration = import_module("apps.loyalty.migrations.0007_ledger_hmac_chain")
    editor = types.SimpleNamespace(connection=connection)
    migration.to_sha256(apps, editor)  # the ledger as it was before HMAC
    assert PointsTransaction.objects.get(idempotency_key="n:0:a").hash == (
        migration.sha256_hash(**_fields(PointsTransaction.objects.get(idempotency_key="n:0:a")))
    )
    assert len([f for f in ledger_faults() if "hash does not match" in f]) == 4
    _tamper(ledger[1])  # broken under the old scheme already
    before = dict(PointsTransaction.objects.filter(account=ledger[1]).values_list("pk", "hash"))

    migration.to_hmac(apps, editor)

    faults = list(ledger_faults())
    assert faults and not [f for f in faults if _concerns(f, ledger[0])]
    assert all(_concerns(f, ledger[1]) for f in faults)
    assert dict(PointsTransaction.objects.filter(account=ledger[1]).values_list("pk", "hash")) == (
        before
    )
    account = LoyaltyAccount.objects.get(pk=ledger[0].pk)
    assert account.last_hash == account.transactions.order_by("-id").first().hash


def _fields(tx) -> dict:
    return {
        "prev_hash": tx.prev_hash,
        "account_id": tx.account_id,
        "kind": tx.kind,
        "points": tx.points,
        "pending_points": tx.pending_points,
        "balance_after": tx.balance_after,
        "idempotency_key": tx.idempotency_key,
        "created_at": tx.created_at,
    }


def _concerns(fault: str, account) -> bool:
    """Whether a verify_ledger fault is about this account or one of its rows."""
    subject, number = fault.split()[:2]
    if subject == "account":
        return number.rstrip(":") == str(account.pk)
    return int(number.rstrip(":")) in set(account.transactions.values_list("pk", flat=True))
