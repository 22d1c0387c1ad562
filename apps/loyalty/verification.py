"""Invariant 1, checked for every account: counters equal ledger sums equal open lot sums,
nothing negative, and every account's HMAC chain intact (``LedgerCheck``); and, against a signed
digest kept outside the database, that nothing recorded up to it was changed, removed or
truncated (``digest_faults``)."""

from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from itertools import groupby
from operator import itemgetter

from django.db import connection, transaction
from django.db.models import Sum

from .digest import ChainHead, digest_heads, digest_problems
from .enums import LotStatus
from .ledger import GENESIS, ledger_key, tx_hash
from .models import LoyaltyAccount, PointsLot, PointsTransaction

TX_FIELDS = (
    "id",
    "account_id",
    "kind",
    "points",
    "pending_points",
    "balance_after",
    "idempotency_key",
    "created_at",
    "prev_hash",
    "hash",
)


@contextmanager
def ledger_snapshot() -> Iterator[None]:
    """Every query of a check inside sees one snapshot (PostgreSQL: REPEATABLE READ, READ ONLY),
    so rows written while a long check runs cannot show up as false faults. Inside an outer
    transaction (tests, a caller's atomic block) that transaction's view stays."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        yield
        return
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        yield


def _recomputed(prev_hash: str, row: tuple, key: bytes) -> str:
    _id, account_id, kind, points, pending, balance_after, idem_key, created_at = row[:8]
    return tx_hash(
        key=key,
        prev_hash=prev_hash,
        account_id=account_id,
        kind=kind,
        points=points,
        pending_points=pending,
        balance_after=balance_after,
        idempotency_key=idem_key,
        created_at=created_at,
    )


def _chain_rows(*, chunk: int, **filters) -> Iterator[tuple]:
    """Ledger rows as ``TX_FIELDS`` tuples in chain order (account, then id)."""
    return (
        PointsTransaction.objects.filter(**filters)
        .order_by("account_id", "id")
        .values_list(*TX_FIELDS)
        .iterator(chunk_size=chunk)
    )


class LedgerCheck:
    """One pass over the whole ledger. Iterate ``faults()``; afterwards ``heads`` holds every
    chain's head as stored (what a digest records), ``accounts`` and ``rows`` what was checked,
    and ``bad_hashes`` how many rows failed their HMAC: all of them means the ledger was written
    under another ``LEDGER_KEY``."""

    def __init__(self, *, chunk: int = 2000) -> None:
        self.chunk = chunk
        self.heads: list[ChainHead] = []
        self.accounts = 0
        self.rows = 0
        self.bad_hashes = 0

    def faults(self) -> Iterator[str]:
        yield from self._sum_faults()
        yield from self._chain_faults()

    def _sum_faults(self) -> Iterator[str]:
        tx_sums = {
            r["account_id"]: (r["p"] or 0, r["q"] or 0)
            for r in PointsTransaction.objects.values("account_id").annotate(
                p=Sum("points"), q=Sum("pending_points")
            )
        }
        lot_sums: dict[int, dict[str, int]] = defaultdict(dict)
        for r in PointsLot.objects.values("account_id", "status").annotate(r=Sum("remaining")):
            lot_sums[r["account_id"]][r["status"]] = r["r"] or 0
        for account in LoyaltyAccount.objects.order_by("pk").iterator(chunk_size=self.chunk):
            self.accounts += 1
            points, pending = tx_sums.get(account.pk, (0, 0))
            lots = lot_sums.get(account.pk, {})
            label = f"account {account.pk} (customer {account.customer_id})"
            if account.balance < 0 or account.pending < 0:
                yield f"{label}: negative balance or pending"
            if account.balance != points:
                yield f"{label}: balance {account.balance} != ledger sum {points}"
            if account.pending != pending:
                yield f"{label}: pending {account.pending} != ledger pending sum {pending}"
            available = lots.get(LotStatus.AVAILABLE, 0)
            pending_lots = lots.get(LotStatus.PENDING, 0)
            if available != account.balance:
                yield f"{label}: balance {account.balance} != available lots {available}"
            if pending_lots != account.pending:
                yield f"{label}: pending {account.pending} != pending lots {pending_lots}"
            for closed in (LotStatus.SPENT, LotStatus.EXPIRED, LotStatus.VOID):
                if lots.get(closed, 0):
                    yield f"{label}: {closed} lots still hold {lots[closed]} points"

    def _chain_faults(self) -> Iterator[str]:
        key = ledger_key()
        last: dict[int, str] = {}
        for account_id, rows in groupby(_chain_rows(chunk=self.chunk), key=itemgetter(1)):
            prev, running, count = GENESIS, 0, 0
            for row in rows:
                tx_id, _, _, points, _, balance_after, _, _, prev_hash, digest = row
                count += 1
                if prev_hash != prev:
                    yield (
                        f"transaction {tx_id}: chain broken "
                        "(prev_hash does not match the previous row)"
                    )
                if _recomputed(prev_hash, row, key) != digest:
                    self.bad_hashes += 1
                    yield f"transaction {tx_id}: hash does not match its contents"
                running += points
                if running != balance_after:
                    yield (
                        f"transaction {tx_id}: balance_after {balance_after} != running sum "
                        f"{running}"
                    )
                prev = digest
            self.rows += count
            self.heads.append(
                ChainHead(
                    account_id=account_id,
                    last_transaction=tx_id,
                    count=count,
                    hash=prev,
                    balance=balance_after,
                )
            )
            last[account_id] = prev
        for account_id, last_hash in LoyaltyAccount.objects.values_list("pk", "last_hash"):
            if last.get(account_id, "") != (last_hash or ""):
                yield f"account {account_id}: last_hash does not match its newest transaction"


def ledger_faults(*, chunk: int = 2000) -> Iterator[str]:
    """Every fault of invariant 1 and the hash chains (see ``LedgerCheck``)."""
    return LedgerCheck(chunk=chunk).faults()


def _head_faults(head: ChainHead, rows: Iterable[tuple], key: bytes) -> Iterator[str]:
    """The account's rows up to the recorded head must still be there, as many as recorded, and
    their chain, recomputed from the genesis with the stored hashes ignored, must end in the
    recorded head hash."""
    label = f"account {head.account_id}"
    tx = head.last_transaction
    prev, count, found = GENESIS, 0, None
    for row in rows:
        if row[0] > tx:
            break
        count += 1
        prev = _recomputed(prev, row, key)
        if row[0] == tx:
            found = row
    if found is None:
        yield (
            f"{label}: transaction {tx}, row {head.count} of its chain in the digest, is gone "
            "(rows removed or the chain truncated)"
        )
        return
    if count != head.count:
        yield (
            f"{label}: {count} rows lead to transaction {tx}, the digest recorded {head.count} "
            "(rows removed or inserted)"
        )
    if found[5] != head.balance:
        yield (
            f"{label}: balance after transaction {tx} is {found[5]}, the digest recorded "
            f"{head.balance}"
        )
    if prev != head.hash:
        yield (
            f"{label}: recomputed from the start, the chain up to transaction {tx} no longer ends "
            "in the digest's head (history rewritten)"
        )


def digest_faults(digest: dict, *, chunk: int = 2000) -> Iterator[str]:
    """Nothing recorded up to ``digest`` was changed, removed or truncated. The digest's
    signature and Merkle root must verify under the current ``LEDGER_KEY`` (else nothing else is
    checked: its heads cannot be trusted); then every account in it must still exist and satisfy
    ``_head_faults``. This catches a rewrite that rebuilt the chain and the account counters
    consistently, which plain verification cannot."""
    problems = digest_problems(digest)
    if problems:
        yield from problems
        return
    heads = {head.account_id: head for head in digest_heads(digest)}
    if not heads:
        return
    key = ledger_key()
    seen: set[int] = set()
    upto = max(head.last_transaction for head in heads.values())
    rows = _chain_rows(chunk=chunk, id__lte=upto)
    for account_id, group in groupby(rows, key=itemgetter(1)):
        if (head := heads.get(account_id)) is not None:
            seen.add(account_id)
            yield from _head_faults(head, group, key)
    missing = sorted(set(heads) - seen)
    existing = set(LoyaltyAccount.objects.filter(pk__in=missing).values_list("pk", flat=True))
    for account_id in missing:
        head = heads[account_id]
        recorded = f"{head.count} rows up to transaction {head.last_transaction}"
        if account_id in existing:
            yield f"account {account_id}: the digest recorded {recorded}; none are left"
        else:
            yield (
                f"account {account_id}: the digest recorded {recorded}; the account no longer "
                "exists"
            )
