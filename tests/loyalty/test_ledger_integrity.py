"""Tamper evidence that survives someone who can write to the database: the HMAC chain under
LEDGER_KEY, the signed digests of the chain heads and ``verify_ledger --digest``."""

import datetime as dt
import hashlib
import hmac
import json
from decimal import Decimal
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from apps.loyalty import digest as digests
from apps.loyalty.ledger import GENESIS, ledger_key_id, tx_hash, tx_payload
from apps.loyalty.models import LoyaltyAccount, PointsLot, PointsTransaction
from apps.loyalty.services import bonus_award, points_expire_due, points_mature_due
from apps.loyalty.services.earning_bulk import orders_earn_bulk
from apps.loyalty.verification import ledger_faults, ledger_snapshot
from tests.customers.factories import CustomerFactory, OrderFactory

pytestmark = pytest.mark.django_db

OTHER_KEY = "a-different-ledger-key-0123456789abcdef"


@pytest.fixture
def ledger(programme):
    """Three members with earned points: 100+50+30, 200, and 70+5."""
    members = [CustomerFactory() for _ in range(3)]
    for i, (customer, amounts) in enumerate(
        zip(members, [(100, 50, 30), (200,), (70, 5)], strict=True)
    ):
        for j, points in enumerate(amounts):
            bonus_award(customer=customer, points=points, key=f"t:{i}:{j}", reason="test")
    return [LoyaltyAccount.objects.get(customer=c) for c in members]


def _digest_file(tmp_path, name="digest.json"):
    path = tmp_path / name
    call_command("ledger_digest", out=str(path))
    return path


def _verify(**options) -> str:
    """Run verify_ledger; the CommandError (exit status 1) carries what it wrote to stderr."""
    err = StringIO()
    try:
        call_command("verify_ledger", stderr=err, stdout=StringIO(), **options)
    except CommandError as exc:
        exc.stderr = err.getvalue()
        raise
    return err.getvalue()


def _unguard():
    """What an attacker with DDL rights does first: switch the append-only trigger off (inside
    this test's transaction, so it is back on afterwards)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute(
                "ALTER TABLE loyalty_pointstransaction "
                "DISABLE TRIGGER loyalty_pointstransaction_append_only"
            )


def _rebuild_consistently(account_id: int) -> None:
    """What someone holding LEDGER_KEY does after editing rows: recompute every balance_after
    and hash with the right key, and set the lots and the account's counters to match, so that
    plain verification finds nothing (every row here is an earn with its own unspent lot)."""
    prev, balance = GENESIS, 0
    for tx in PointsTransaction.objects.filter(account_id=account_id).order_by("id"):
        balance += tx.points
        digest = tx_hash(
            prev_hash=prev,
            account_id=account_id,
            kind=tx.kind,
            points=tx.points,
            pending_points=tx.pending_points,
            balance_after=balance,
            idempotency_key=tx.idempotency_key,
            created_at=tx.created_at,
        )
        PointsTransaction.objects.filter(pk=tx.pk).update(
            balance_after=balance, prev_hash=prev, hash=digest
        )
        PointsLot.objects.filter(pk=tx.lot_id).update(points=tx.points, remaining=tx.points)
        prev = digest
    LoyaltyAccount.objects.filter(pk=account_id).update(
        balance=balance,
        lifetime_earned=balance,
        last_hash=prev if prev != GENESIS else "",
    )


# --- the keyed chain ---------------------------------------------------------------------------


def test_rows_are_chained_with_hmac_sha256_under_the_ledger_key(ledger):
    tx = PointsTransaction.objects.filter(account=ledger[0]).order_by("id")[1]
    payload = tx_payload(
        prev_hash=tx.prev_hash,
        account_id=tx.account_id,
        kind=tx.kind,
        points=tx.points,
        pending_points=tx.pending_points,
        balance_after=tx.balance_after,
        idempotency_key=tx.idempotency_key,
        created_at=tx.created_at,
    ).encode()
    assert tx.hash == hmac.new(settings.LEDGER_KEY.encode(), payload, hashlib.sha256).hexdigest()
    assert tx.hash != hashlib.sha256(payload).hexdigest()  # no longer recomputable without it
    assert list(ledger_faults()) == []


def test_verify_ledger_under_another_key_reports_every_chain_broken(ledger):
    with override_settings(LEDGER_KEY=OTHER_KEY), pytest.raises(CommandError) as caught:
        _verify()
    assert str(caught.value) == "6 ledger fault(s) found."
    broken = {
        line.split()[1].rstrip(":")
        for line in caught.value.stderr.splitlines()
        if line.endswith("hash does not match its contents")
    }
    assert broken == {str(pk) for pk in PointsTransaction.objects.values_list("pk", flat=True)}
    assert "Every row fails its hash: was the ledger written under another LEDGER_KEY?" in (
        caught.value.stderr
    )
    with override_settings(LEDGER_KEY=OTHER_KEY):
        assert f"this key's id is {ledger_key_id()}" in caught.value.stderr
    assert _verify() == ""  # under the key it was written with, every chain holds


def test_every_writer_chains_with_the_configured_key(programme, store, settings):
    """Single appends, the bulk earning of imports and the set-based nightly jobs all go through
    the one keyed function: written under one key, the ledger verifies under that key only."""
    settings.LEDGER_KEY = OTHER_KEY
    customer = CustomerFactory()
    old = OrderFactory(customer=customer, store=store, placed_at=timezone.now() - dt.timedelta(400))
    recent = OrderFactory(customer=customer, store=store, total=Decimal(50))
    assert orders_earn_bulk(order_ids=[old.pk, recent.pk]) == 2  # bulk insert path
    bonus_award(customer=customer, points=10, key="single", reason="single append")
    assert points_mature_due(as_of=timezone.now() + dt.timedelta(days=20)) == 1
    assert points_expire_due(as_of=timezone.now()) == 1
    kinds = set(PointsTransaction.objects.values_list("kind", flat=True))
    assert kinds == {"earn", "pending", "mature", "expire"}
    assert list(ledger_faults()) == []
    settings.LEDGER_KEY = "yet-another-key-" * 3
    faults = list(ledger_faults())
    assert len([f for f in faults if f.endswith("hash does not match its contents")]) == 5


# --- the digest ----------------------------------------------------------------------------------


def test_ledger_digest_writes_a_signed_digest_of_every_chain_head(ledger, tmp_path):
    data = json.loads(_digest_file(tmp_path).read_text())
    heads = [
        {
            "account": a.pk,
            "last_transaction": a.transactions.order_by("-id").first().pk,
            "count": a.transactions.count(),
            "head": a.last_hash,
            "balance": a.balance,
        }
        for a in sorted(ledger, key=lambda a: a.pk)
    ]
    assert data["heads"] == heads
    assert [h["balance"] for h in data["heads"]] == [180, 200, 75]
    assert (data["format"], data["version"], data["accounts"], data["rows"]) == (
        "clientele-ledger-digest",
        1,
        3,
        6,
    )
    assert data["algorithm"] == {
        "chain": "HMAC-SHA-256",
        "merkle": "SHA-256 (RFC 6962)",
        "signature": "HMAC-SHA-256",
    }
    assert data["key_id"] == ledger_key_id() and len(data["key_id"]) == 16
    assert data["last_transaction"] == PointsTransaction.objects.order_by("-id").first().pk
    leaves = [
        f"{h['account']}:{h['last_transaction']}:{h['count']}:{h['head']}:{h['balance']}".encode()
        for h in heads
    ]
    assert data["merkle_root"] == _rfc6962(leaves)
    generated = dt.datetime.fromisoformat(data["generated_at"].replace("Z", "+00:00"))
    assert abs((timezone.now() - generated).total_seconds()) < 60
    assert digests.digest_problems(data) == []


def test_a_fresh_digest_verifies_and_later_activity_does_not_break_it(ledger, tmp_path):
    path = _digest_file(tmp_path)
    bonus_award(customer=ledger[0].customer, points=9, key="after", reason="after the digest")
    bonus_award(customer=CustomerFactory(), points=4, key="new member", reason="new account")
    assert _verify(digest=str(path)) == ""


def test_digest_catches_a_consistent_rewrite_that_plain_verification_passes(ledger, tmp_path):
    path = _digest_file(tmp_path)
    account = ledger[0]
    first = PointsTransaction.objects.filter(account=account).order_by("id").first()
    _unguard()
    PointsTransaction.objects.filter(pk=first.pk).update(points=1000)  # 100 → 1000
    _rebuild_consistently(account.pk)
    account.refresh_from_db()
    assert account.balance == 1080

    _verify()  # plain verification: sums, lots and the keyed chain all agree
    with pytest.raises(CommandError) as caught:
        _verify(digest=str(path))
    assert caught.value.returncode == 1  # the exit status of manage.py
    last = account.transactions.order_by("-id").first().pk
    assert caught.value.stderr.splitlines() == [
        f"account {account.pk}: balance after transaction {last} is 1080, the digest recorded 180",
        f"account {account.pk}: recomputed from the start, the chain up to transaction {last} "
        "no longer ends in the digest's head (history rewritten)",
    ]


def test_digest_catches_rows_removed_from_the_end(ledger, tmp_path):
    path = _digest_file(tmp_path)
    account = ledger[0]
    last = account.transactions.order_by("-id").first()
    _unguard()
    PointsTransaction.objects.filter(pk=last.pk).delete()
    PointsLot.objects.filter(pk=last.lot_id).delete()
    _rebuild_consistently(account.pk)

    _verify()
    with pytest.raises(CommandError, match="1 ledger fault") as caught:
        _verify(digest=str(path))
    assert caught.value.stderr.splitlines() == [
        f"account {account.pk}: transaction {last.pk}, row 3 of its chain in the digest, is gone "
        "(rows removed or the chain truncated)"
    ]


def test_digest_catches_a_row_removed_from_the_middle(ledger, tmp_path):
    path = _digest_file(tmp_path)
    account = ledger[0]
    middle = account.transactions.order_by("id")[1]
    _unguard()
    PointsTransaction.objects.filter(pk=middle.pk).delete()
    PointsLot.objects.filter(pk=middle.lot_id).delete()
    _rebuild_consistently(account.pk)

    _verify()
    with pytest.raises(CommandError) as caught:
        _verify(digest=str(path))
    assert f"account {account.pk}: 2 rows lead to transaction" in caught.value.stderr
    assert "(history rewritten)" in caught.value.stderr


def test_digest_catches_a_removed_account(ledger, tmp_path):
    path = _digest_file(tmp_path)
    gone = ledger[2]
    last = gone.transactions.order_by("-id").first().pk
    _unguard()
    lots = list(gone.transactions.values_list("lot_id", flat=True))
    gone.transactions.all().delete()
    PointsLot.objects.filter(pk__in=lots).delete()
    LoyaltyAccount.objects.filter(pk=gone.pk).delete()

    _verify()
    with pytest.raises(CommandError, match="1 ledger fault") as caught:
        _verify(digest=str(path))
    assert caught.value.stderr.splitlines() == [
        f"account {gone.pk}: the digest recorded 2 rows up to transaction {last}; the account "
        "no longer exists"
    ]


@pytest.mark.parametrize(
    "edit",
    [
        lambda d: d["heads"][0].update(balance=d["heads"][0]["balance"] + 1000),
        lambda d: d["heads"].pop(),
        lambda d: d.update(generated_at="2020-01-01T00:00:00Z"),
        lambda d: d.update(merkle_root="0" * 64),
    ],
    ids=["head balance", "head removed", "date", "merkle root"],
)
def test_a_digest_edited_after_signing_is_refused(ledger, tmp_path, edit):
    path = _digest_file(tmp_path)
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))
    with pytest.raises(CommandError, match="1 ledger fault") as caught:
        _verify(digest=str(path))
    assert caught.value.stderr.splitlines() == [
        "digest: the signature does not match: the file was changed after it was signed"
    ]


def test_a_digest_signed_under_another_key_is_refused(ledger, tmp_path, settings):
    settings.LEDGER_KEY = OTHER_KEY
    path = tmp_path / "other.json"
    with pytest.raises(CommandError, match="but the ledger has 6 fault"):  # written, but faulty
        call_command("ledger_digest", out=str(path))
    settings.LEDGER_KEY = "test-key-restored-" * 2
    other_id = json.loads(path.read_text())["key_id"]
    with pytest.raises(CommandError) as caught:
        _verify(digest=str(path))
    assert (
        f"digest: signed under another key (key id {other_id}, this server's LEDGER_KEY is "
        f"{ledger_key_id()}); it cannot be checked with this key"
    ) in caught.value.stderr


@pytest.mark.parametrize(
    "text, reason",
    [
        ("{not json", "not JSON"),
        ('{"format": "something-else"}', "not a clientele-ledger-digest file"),
        ('{"format": "clientele-ledger-digest", "version": 2}', "unsupported digest version 2"),
        (
            '{"format": "clientele-ledger-digest", "version": 1, "heads": [{"account": "1"}]}',
            "the heads are malformed",
        ),
    ],
)
def test_an_unreadable_digest_file_is_refused(ledger, tmp_path, text, reason):
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(CommandError, match=f"Cannot read the digest .*: {reason}"):
        _verify(digest=str(path))
    with pytest.raises(CommandError, match="Cannot read the digest"):
        _verify(digest=str(tmp_path / "missing.json"))


def test_ledger_digest_still_writes_but_fails_on_a_faulty_ledger(ledger, tmp_path):
    _unguard()
    PointsTransaction.objects.filter(account=ledger[1]).update(points=999)
    path = tmp_path / "d.json"
    with pytest.raises(
        CommandError,
        match=r"Digest written \(3 chains, 6 ledger rows; Merkle root [0-9a-f]{64}\), but",
    ):
        call_command("ledger_digest", out=str(path))
    assert json.loads(path.read_text())["accounts"] == 3


def test_ledger_digest_prints_to_stdout_without_out(ledger, capsys):
    call_command("ledger_digest")
    data = json.loads(capsys.readouterr().out)
    assert digests.digest_problems(data) == [] and data["accounts"] == 3


def _rfc6962(leaves: list[bytes]) -> str:
    """RFC 6962 §2.1, as written: split at the largest power of two below n."""

    def mth(items):
        if len(items) == 1:
            return hashlib.sha256(b"\x00" + items[0]).digest()
        k = 1
        while k * 2 < len(items):
            k *= 2
        return hashlib.sha256(b"\x01" + mth(items[:k]) + mth(items[k:])).digest()

    return mth(leaves).hex() if leaves else hashlib.sha256(b"").hexdigest()


@pytest.mark.parametrize("n", [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 13])
def test_merkle_root_is_rfc6962(n):
    leaves = [f"leaf {i}".encode() for i in range(n)]
    assert digests.merkle_root(leaves) == _rfc6962(leaves)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_check_outside_a_transaction_reads_one_read_only_snapshot(programme):
    bonus_award(customer=CustomerFactory(), points=10, key="snap", reason="test")
    with ledger_snapshot(), connection.cursor() as cursor:
        cursor.execute("SHOW transaction_isolation")
        isolation = cursor.fetchone()[0]
        cursor.execute("SHOW transaction_read_only")
        read_only = cursor.fetchone()[0]
    assert (isolation, read_only) == ("repeatable read", "on")
    assert _verify() == ""
