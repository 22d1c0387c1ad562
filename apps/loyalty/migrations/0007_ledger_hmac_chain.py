"""Re-chain the existing ledger under HMAC-SHA-256 keyed by ``LEDGER_KEY``.

Rows written before this migration carry plain SHA-256 hashes, which anyone can recompute. For
each account whose chain is intact under that old scheme (every ``prev_hash`` links, every hash
matches its row, ``last_hash`` is the newest hash), the chain is recomputed with
``apps.loyalty.ledger.tx_hash`` and ``last_hash`` follows. An account whose old chain was already
broken is left as it is, so ``verify_ledger`` keeps reporting it. Only ``prev_hash``, ``hash``
and ``last_hash`` change: points, balances, keys and times are the same rows.

On PostgreSQL the append-only trigger is switched off inside this migration's transaction
(``ALTER TABLE … DISABLE TRIGGER`` is transactional) and on again before it commits. Run it with
the production ``LEDGER_KEY`` set (production settings refuse to start without one). On a fresh
database there are no rows and nothing happens. The reverse re-chains under the old SHA-256 the
accounts that are intact under the key.
"""

import hashlib
from itertools import groupby
from operator import itemgetter

from django.db import migrations

from apps.core.db import bulk_update_fields
from apps.loyalty.ledger import GENESIS, tx_hash, tx_payload

TRIGGER = "loyalty_pointstransaction_append_only"
FIELDS = ("id", "account_id", "kind", "points", "pending_points", "balance_after",
          "idempotency_key", "created_at", "prev_hash", "hash")
ACCOUNTS_PER_CHUNK = 500


def _fields(row, prev):
    return {"prev_hash": prev, "account_id": row[1], "kind": row[2], "points": row[3],
            "pending_points": row[4], "balance_after": row[5], "idempotency_key": row[6],
            "created_at": row[7]}


def sha256_hash(**fields):
    """The hash of the ledger before HMAC: SHA-256 of the same payload, no key."""
    return hashlib.sha256(tx_payload(**fields).encode()).hexdigest()


def _intact(rows, last_hash, scheme):
    prev = GENESIS
    for row in rows:
        if row[8] != prev or scheme(**_fields(row, prev)) != row[9]:
            return False
        prev = row[9]
    return prev == last_hash


def _rechain(apps, schema_editor, *, old, new):
    Tx = apps.get_model("loyalty", "PointsTransaction")
    Account = apps.get_model("loyalty", "LoyaltyAccount")
    ids = list(Tx.objects.order_by("account_id").values_list("account_id", flat=True).distinct())
    if not ids:
        return
    postgres = schema_editor.connection.vendor == "postgresql"
    if postgres:
        with schema_editor.connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute(f"ALTER TABLE loyalty_pointstransaction DISABLE TRIGGER {TRIGGER}")
    for start in range(0, len(ids), ACCOUNTS_PER_CHUNK):
        chunk = ids[start:start + ACCOUNTS_PER_CHUNK]
        last_hashes = dict(Account.objects.filter(pk__in=chunk).values_list("pk", "last_hash"))
        rows = Tx.objects.filter(account_id__in=chunk).order_by("account_id", "id")
        txs, accounts = [], []
        for account_id, group in groupby(rows.values_list(*FIELDS), key=itemgetter(1)):
            group = list(group)
            if not _intact(group, last_hashes.get(account_id), old):
                continue
            prev = GENESIS
            for row in group:
                digest = new(**_fields(row, prev))
                txs.append(Tx(id=row[0], prev_hash=prev, hash=digest))
                prev = digest
            accounts.append(Account(id=account_id, last_hash=prev))
        bulk_update_fields(Tx, txs, ["prev_hash", "hash"])
        bulk_update_fields(Account, accounts, ["last_hash"])
    if postgres:
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(f"ALTER TABLE loyalty_pointstransaction ENABLE TRIGGER {TRIGGER}")


def to_hmac(apps, schema_editor):
    _rechain(apps, schema_editor, old=sha256_hash, new=tx_hash)


def to_sha256(apps, schema_editor):
    _rechain(apps, schema_editor, old=tx_hash, new=sha256_hash)


class Migration(migrations.Migration):
    dependencies = [("loyalty", "0006_ledger_verification")]
    operations = [migrations.RunPython(to_hmac, to_sha256)]
