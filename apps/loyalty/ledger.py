"""The points ledger: the only code that writes PointsTransaction, PointsLot and the account's
counters. Callers hold the account's row lock (``locks.lock_account``) and are inside a
transaction.

Invariant 1, kept here: ``balance == Σ points`` of the account's transactions ``== Σ remaining``
of its available lots; ``pending == Σ pending_points == Σ remaining`` of its pending lots;
``balance >= 0`` (CHECK). Each transaction chains the previous one's hash: HMAC-SHA-256 under
``settings.LEDGER_KEY`` (``tx_hash``, the one function every writer and checker uses), so someone
who can write to the database but does not hold the key cannot rebuild a chain after changing a
row. Someone who holds the key can; the signed digests of the chain heads kept outside the
database (``apps.loyalty.digest``) catch that.
"""

import datetime as dt
import functools
import hashlib
import hmac

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.db.models import F
from django.utils import timezone

from apps.core.db import is_postgres
from apps.core.rows import insert_parts, mark_saved

from .enums import ExpiryPolicy, LotStatus, TxKind
from .models import LotAllocation, LoyaltyAccount, PointsLot, PointsTransaction, Programme

GENESIS = "0" * 64
CHAIN_ALGORITHM = "HMAC-SHA-256"
# Kinds that count towards lifetime earned (not maturation: it was counted when pending).
EARNING_KINDS = (TxKind.EARN, TxKind.PENDING, TxKind.COMPENSATE)


def _setting() -> str:
    key = settings.LEDGER_KEY
    if not key:
        raise ImproperlyConfigured("LEDGER_KEY is not set: the ledger cannot be chained.")
    return key


def ledger_key() -> bytes:
    """The chain key (``LEDGER_KEY``). Read on every call, so ``override_settings`` applies."""
    return _setting().encode()


def ledger_subkey(label: str) -> bytes:
    """A key for another purpose (signing digests, naming the key), derived from the chain key
    under ``label`` so that no value made for one purpose is valid for another."""
    return hmac.new(ledger_key(), label.encode(), hashlib.sha256).digest()


def ledger_key_id() -> str:
    """A public fingerprint of ``LEDGER_KEY``: names the key in digests without revealing it."""
    return ledger_subkey("clientele/ledger-key-id/v1").hex()[:16]


@functools.lru_cache(maxsize=4)
def _keyed(key: str | bytes) -> hmac.HMAC:
    # Keying an HMAC hashes the key pads; copying a keyed one is cheaper per row. Cached by the
    # setting's own string too, whose hash Python keeps, so a row pays no key encoding.
    return hmac.new(key.encode() if isinstance(key, str) else key, digestmod=hashlib.sha256)


def tx_payload(
    *,
    prev_hash: str,
    account_id: int,
    kind: str,
    points: int,
    pending_points: int,
    balance_after: int,
    idempotency_key: str,
    created_at: dt.datetime,
) -> str:
    """What a row's hash covers: the previous hash, the account, kind, points, balance after,
    idempotency key (which names the row's source) and time; not ``reason``, which erasure may
    scrub. The same payload as the SHA-256 chain before it (see migration 0007)."""
    return "|".join(
        [
            prev_hash,
            str(account_id),
            kind,
            str(points),
            str(pending_points),
            str(balance_after),
            idempotency_key,
            created_at.astimezone(dt.UTC).isoformat(),
        ]
    )


def tx_hash(
    *,
    prev_hash: str,
    account_id: int,
    kind: str,
    points: int,
    pending_points: int,
    balance_after: int,
    idempotency_key: str,
    created_at: dt.datetime,
    key: bytes | None = None,
) -> str:
    """A row's chain hash: HMAC-SHA-256 of its ``tx_payload`` under ``key`` (default
    ``LEDGER_KEY``). Every writer (``build``, the bulk jobs through it, the bench seeder) and
    every checker (``verify_ledger``, ``--digest``) calls this one function."""
    mac = _keyed(_setting() if key is None else key).copy()
    payload = tx_payload(
        prev_hash=prev_hash,
        account_id=account_id,
        kind=kind,
        points=points,
        pending_points=pending_points,
        balance_after=balance_after,
        idempotency_key=idempotency_key,
        created_at=created_at,
    )
    mac.update(payload.encode())
    return mac.hexdigest()


def tx_exists(key: str) -> PointsTransaction | None:
    return PointsTransaction.objects.filter(idempotency_key=key).first()


def chain_next(
    account, *, kind: str, key: str, points: int, pending_points: int, at: dt.datetime
) -> tuple[str, int, str]:
    """One step of the account's chain: the next row's previous hash, balance after and hash,
    with the account's counters moved in memory as the row moves them. ``build`` and the bulk
    writers (``ledger_batch``) both take this step, so a row is chained one way only."""
    balance_after = account.balance + points
    prev = account.last_hash or GENESIS
    digest = tx_hash(
        prev_hash=prev,
        account_id=account.pk,
        kind=kind,
        points=points,
        pending_points=pending_points,
        balance_after=balance_after,
        idempotency_key=key,
        created_at=at,
    )
    account.balance = balance_after
    account.pending += pending_points
    if kind in EARNING_KINDS and points + pending_points > 0:
        account.lifetime_earned += points + pending_points
    account.last_hash = digest
    return prev, balance_after, digest


def build(
    *,
    account: LoyaltyAccount,
    kind: str,
    key: str,
    points: int = 0,
    pending_points: int = 0,
    reason: str = "",
    at: dt.datetime | None = None,
    detail: dict | None = None,
    **links,
) -> PointsTransaction:
    """An unsaved ledger row chained to the account's last one; moves the account's counters in
    memory. Batch jobs build many rows, then ``bulk_create`` them and save the accounts.
    ``detail`` holds the ids and codes the row's description is built from (see
    ``apps.loyalty.describe``); like ``reason`` it is outside the hash."""
    created_at = at or timezone.now()
    prev, balance_after, digest = chain_next(
        account, kind=kind, key=key, points=points, pending_points=pending_points, at=created_at
    )
    tx = PointsTransaction(
        account=account,
        kind=kind,
        points=points,
        pending_points=pending_points,
        balance_after=balance_after,
        reason=reason[:200],
        detail=detail or {},
        idempotency_key=key,
        created_at=created_at,
        prev_hash=prev,
        hash=digest,
        **links,
    )
    return tx


ACCOUNT_COUNTERS = ["balance", "pending", "lifetime_earned", "debt", "last_hash", "updated_at"]


def append(*, account: LoyaltyAccount, kind: str, key: str, **kwargs) -> PointsTransaction:
    """Write one ledger row and the account's counters with it."""
    tx = build(account=account, kind=kind, key=key, **kwargs)
    tx.save()
    account.save(update_fields=ACCOUNT_COUNTERS)
    return tx


def lot_append(
    *, account: LoyaltyAccount, lot: PointsLot, kind: str, key: str, **kwargs
) -> PointsTransaction:
    """Write a new points ``lot`` (unsaved), the ledger row that records it (``build``'s
    arguments; the row links to the lot) and the account's counters. On PostgreSQL one
    statement (``WITH lot AS (INSERT …), tx AS (INSERT …) UPDATE account``): an order's points
    cost one round trip. Elsewhere three writes."""
    tx = build(account=account, kind=kind, key=key, **kwargs)
    if not is_postgres():
        lot.save()
        tx.lot = lot
        tx.save()
        account.save(update_fields=ACCOUNT_COUNTERS)
        return tx
    lot_columns, lot_values = insert_parts(lot)
    tx_columns, tx_values = insert_parts(tx, skip=("lot_id",))
    sets, set_values = [], []
    for name in ACCOUNT_COUNTERS:
        field = LoyaltyAccount._meta.get_field(name)
        sets.append(f"{connection.ops.quote_name(field.column)} = %s")
        set_values.append(field.get_db_prep_save(field.pre_save(account, False), connection))
    # Column names come from the models' metadata; every value is a bound parameter.
    sql = (
        f"WITH lot AS (INSERT INTO loyalty_pointslot ({', '.join(lot_columns)})"  # noqa: S608 (identifiers from model metadata, values bound)  # nosec B608
        f" VALUES ({', '.join(['%s'] * len(lot_values))}) RETURNING id),"
        f" tx AS (INSERT INTO loyalty_pointstransaction ({', '.join(tx_columns)}, lot_id)"
        f" SELECT {', '.join(['%s'] * len(tx_values))}, lot.id FROM lot RETURNING id)"
        f" UPDATE loyalty_loyaltyaccount SET {', '.join(sets)} WHERE id = %s"
        " RETURNING (SELECT id FROM lot), (SELECT id FROM tx)"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*lot_values, *tx_values, *set_values, account.pk])
        lot_id, tx_id = cursor.fetchone()
    mark_saved(lot, lot_id)
    tx.lot = lot
    mark_saved(tx, tx_id)
    return tx


def _add_months(moment: dt.datetime, months: int) -> dt.datetime:
    month0 = moment.month - 1 + months
    year, month = moment.year + month0 // 12, month0 % 12 + 1
    day = min(
        moment.day,
        [
            31,
            29 if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0) else 28,
            31,
            30,
            31,
            30,
            31,
            31,
            30,
            31,
            30,
            31,
        ][month - 1],
    )
    return moment.replace(year=year, month=month, day=day)


def expiry_for(*, earned_at: dt.datetime, programme: Programme) -> dt.datetime | None:
    """Rolling: N months after earning, at the end of that day. Clearing: the end of the
    calendar year ``earned year + N`` (N=1: points earned in 2026 expire at the end of 2027).
    Times are in the business time zone."""
    local = timezone.localtime(earned_at)
    if programme.expiry_policy == ExpiryPolicy.NEVER:
        return None
    if programme.expiry_policy == ExpiryPolicy.END_OF_YEAR:
        end = local.replace(year=local.year + programme.expiry_years, month=12, day=31)
    else:
        end = _add_months(local, programme.expiry_months)
    return end.replace(hour=23, minute=59, second=59, microsecond=0)


def lot_new(
    *,
    account: LoyaltyAccount,
    points: int,
    earned_at: dt.datetime,
    available_at: dt.datetime,
    programme: Programme,
    order=None,
) -> PointsLot:
    """An unsaved lot: pending until ``available_at``, expiring by the programme's policy."""
    pending = available_at > timezone.now()
    return PointsLot(
        account=account,
        points=points,
        remaining=points,
        status=LotStatus.PENDING if pending else LotStatus.AVAILABLE,
        earned_at=earned_at,
        available_at=available_at,
        expires_at=expiry_for(earned_at=earned_at, programme=programme),
        order=order,
    )


def lot_create(**kwargs) -> PointsLot:
    """``lot_new``, saved."""
    lot = lot_new(**kwargs)
    lot.save()
    return lot


def spend_lots(*, account: LoyaltyAccount, points: int, tx: PointsTransaction, lots=None) -> int:
    """Take ``points`` from the account's lots, soonest-expiring first (invariant 4); lots that
    never expire go last. Records LotAllocation rows. Returns the points actually taken."""
    taken = 0
    if lots is None:
        lots = (
            PointsLot.objects.select_for_update()
            .filter(account=account, status=LotStatus.AVAILABLE, remaining__gt=0)
            .order_by(F("expires_at").asc(nulls_last=True), "earned_at", "id")
        )
    allocations = []
    for lot in lots:
        if taken >= points:
            break
        take = min(lot.remaining, points - taken)
        lot.remaining -= take
        if lot.remaining == 0:
            lot.status = LotStatus.VOID if tx.kind == TxKind.REFUND else LotStatus.SPENT
        lot.save(update_fields=["remaining", "status"])
        allocations.append(LotAllocation(transaction=tx, lot=lot, points=take))
        taken += take
    LotAllocation.objects.bulk_create(allocations)
    return taken
