"""Many ledger rows at once: the lots and chained rows that ``ledger.lot_create`` and
``ledger.append`` write one by one, built in memory on each account's chain and written with one
``COPY`` per table (bulk earning, the bonuses of a chunk).

The same invariant as ``ledger`` (invariant 1): each row's ``balance_after`` and hash follow the
account's previous row (``ledger.tx_hash``), and the account's counters move with it. The caller
holds the accounts' row locks and is inside a transaction; rows are written in the order they
were added, so each account's rows get ascending ids in chain order. A caller that writes rows
for an account some other way (``ledger.append``) flushes the batch first.
"""

import datetime as dt
from dataclasses import dataclass

from django.db import connection
from django.utils import timezone
from psycopg.types.json import Jsonb

from apps.core.db import bulk_insert, bulk_update_fields, in_ids, is_postgres

from . import ledger
from .locks import entry_tier
from .models import LoyaltyAccount, PointsLot, PointsTransaction

LOT_COLUMNS = (
    "id", "account_id", "points", "remaining", "status", "earned_at", "available_at",
    "expires_at", "order_id",
)  # fmt: skip
TX_COLUMNS = (
    "account_id", "kind", "points", "pending_points", "balance_after", "reason", "order_id",
    "lot_id", "source_ref", "campaign_id", "detail", "idempotency_key", "created_at",
    "prev_hash", "hash",
)  # fmt: skip


@dataclass(frozen=True)
class Lot:
    """A lot to write with its row (``ledger.lot_create``'s fields)."""

    points: int
    status: str
    earned_at: dt.datetime
    available_at: dt.datetime
    expires_at: dt.datetime | None
    order_id: int | None = None


class LedgerBatch:
    def __init__(self) -> None:
        self._lots: list[tuple[LoyaltyAccount, Lot]] = []
        self._txs: list[tuple] = []
        self._accounts: dict[int, LoyaltyAccount] = {}
        self.rows_written = 0

    def __len__(self) -> int:
        return len(self._txs)

    def append(
        self,
        *,
        account: LoyaltyAccount,
        kind: str,
        key: str,
        at: dt.datetime,
        points: int = 0,
        pending_points: int = 0,
        reason: str = "",
        detail: dict | None = None,
        lot: Lot | None = None,
        order_id: int | None = None,
        campaign_id: int | None = None,
        source_ref: str = "",
    ) -> None:
        """A row chained to the account's last one (``ledger.build``), with its lot if any."""
        prev, balance_after, digest = ledger.chain_next(
            account, kind=kind, key=key, points=points, pending_points=pending_points, at=at
        )
        lot_index = None
        if lot is not None:
            lot_index = len(self._lots)
            self._lots.append((account, lot))
        row = (
            account.pk, kind, points, pending_points, balance_after, reason[:200], order_id,
            lot_index, source_ref, campaign_id, detail or {}, key, at, prev, digest,
        )  # fmt: skip
        self._txs.append(row)
        self._accounts[account.pk] = account

    def flush(self) -> int:
        """Write the rows added since the last flush, and their accounts' counters. Returns the
        number of ledger rows written."""
        if not self._txs:
            return 0
        if is_postgres():
            self._copy()
            self._update_accounts()
        else:
            self._insert()
            bulk_update_fields(
                LoyaltyAccount, list(self._accounts.values()), ledger.ACCOUNT_COUNTERS
            )
        written = len(self._txs)
        self.rows_written += written
        self._lots, self._txs, self._accounts = [], [], {}
        return written

    def _copy(self) -> None:
        with connection.cursor() as cursor:
            lot_ids: list[int] = []
            if self._lots:
                # Ids taken from the sequence up front (safe beside concurrent inserts), so the
                # ledger rows can name their lots in the same pass.
                cursor.execute(
                    "SELECT nextval(pg_get_serial_sequence('loyalty_pointslot', 'id')) "
                    "FROM generate_series(1, %s)",
                    [len(self._lots)],
                )
                lot_ids = [row[0] for row in cursor.fetchall()]
                with cursor.copy(
                    f"COPY loyalty_pointslot ({', '.join(LOT_COLUMNS)}) FROM STDIN"
                ) as copy:
                    for lot_id, (account, lot) in zip(lot_ids, self._lots, strict=True):
                        row = (
                            lot_id, account.pk, lot.points, lot.points, lot.status,
                            lot.earned_at, lot.available_at, lot.expires_at, lot.order_id,
                        )  # fmt: skip
                        copy.write_row(row)
            with cursor.copy(
                f"COPY loyalty_pointstransaction ({', '.join(TX_COLUMNS)}) FROM STDIN"
            ) as copy:
                for row in self._txs:
                    lot_index, detail = row[7], row[10]
                    copy.write_row(
                        (
                            *row[:7],
                            None if lot_index is None else lot_ids[lot_index],
                            *row[8:10],
                            Jsonb(detail),
                            *row[11:],
                        )
                    )

    def _update_accounts(self) -> None:
        """The counters of the accounts written to (``ledger.ACCOUNT_COUNTERS``), one
        ``UPDATE … FROM unnest(…)`` with one array per column."""
        accounts = list(self._accounts.values())
        now = timezone.now()
        for account in accounts:
            account.updated_at = now
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE loyalty_loyaltyaccount AS a SET balance = v.balance, "
                "pending = v.pending, lifetime_earned = v.lifetime, debt = v.debt, "
                "last_hash = v.last_hash, updated_at = %s "
                "FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[], %s::bigint[], "
                "%s::bigint[], %s::varchar[]) "
                "AS v(id, balance, pending, lifetime, debt, last_hash) WHERE a.id = v.id",
                [
                    now,
                    [a.pk for a in accounts],
                    [a.balance for a in accounts],
                    [a.pending for a in accounts],
                    [a.lifetime_earned for a in accounts],
                    [a.debt for a in accounts],
                    [a.last_hash for a in accounts],
                ],
            )

    def _insert(self) -> None:
        """Elsewhere than PostgreSQL (SQLite on a laptop): the same rows through the ORM."""
        lots = [
            PointsLot(
                account=account,
                points=lot.points,
                remaining=lot.points,
                status=lot.status,
                earned_at=lot.earned_at,
                available_at=lot.available_at,
                expires_at=lot.expires_at,
                order_id=lot.order_id,
            )
            for account, lot in self._lots
        ]
        bulk_insert(PointsLot, lots, set_pks=True)
        txs = []
        for row in self._txs:
            values = dict(zip(TX_COLUMNS, row, strict=True))
            lot_index = values.pop("lot_id")
            txs.append(
                PointsTransaction(
                    **values, lot_id=None if lot_index is None else lots[lot_index].pk
                )
            )
        bulk_insert(PointsTransaction, txs)


def accounts_lock(
    *, customer_ids, joined_at: dt.datetime | None = None
) -> dict[int, LoyaltyAccount]:
    """The accounts of many members, row-locked in primary-key order, by customer id; those
    that do not exist yet are created first in the entry tier, as ``locks.account_ensure``
    creates them, in the tier since ``joined_at`` (default now). One query when they all
    exist."""
    ids = sorted(set(customer_ids))
    if not ids:
        return {}
    locked = LoyaltyAccount.objects.select_for_update().order_by("pk")
    accounts = {a.customer_id: a for a in locked.filter(in_ids("customer_id", ids))}
    if missing := [c for c in ids if c not in accounts]:
        entry = entry_tier()
        since = (joined_at or timezone.now()) if entry else None
        LoyaltyAccount.objects.bulk_create(
            [LoyaltyAccount(customer_id=c, tier=entry, tier_since=since) for c in missing],
            ignore_conflicts=True,
        )
        accounts = {a.customer_id: a for a in locked.filter(in_ids("customer_id", ids))}
    return accounts
