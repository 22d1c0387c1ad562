"""Invariant 1, checked for every account: counters equal ledger sums equal open lot sums,
nothing negative, and every account's hash chain intact."""

from collections import defaultdict
from collections.abc import Iterator

from django.db.models import Sum

from .enums import LotStatus
from .ledger import GENESIS, tx_hash
from .models import LoyaltyAccount, PointsLot, PointsTransaction


def ledger_faults(*, chunk: int = 2000) -> Iterator[str]:
    tx_sums = {
        r["account_id"]: (r["p"] or 0, r["q"] or 0)
        for r in PointsTransaction.objects.values("account_id").annotate(
            p=Sum("points"), q=Sum("pending_points")
        )
    }
    lot_sums: dict[int, dict[str, int]] = defaultdict(dict)
    for r in PointsLot.objects.values("account_id", "status").annotate(r=Sum("remaining")):
        lot_sums[r["account_id"]][r["status"]] = r["r"] or 0
    for account in LoyaltyAccount.objects.order_by("pk").iterator(chunk_size=chunk):
        points, pending = tx_sums.get(account.pk, (0, 0))
        lots = lot_sums.get(account.pk, {})
        label = f"account {account.pk} (customer {account.customer_id})"
        if account.balance < 0 or account.pending < 0:
            yield f"{label}: negative balance or pending"
        if account.balance != points:
            yield f"{label}: balance {account.balance} != ledger sum {points}"
        if account.pending != pending:
            yield f"{label}: pending {account.pending} != ledger pending sum {pending}"
        available, pending_lots = lots.get(LotStatus.AVAILABLE, 0), lots.get(LotStatus.PENDING, 0)
        if available != account.balance:
            yield f"{label}: balance {account.balance} != available lots {available}"
        if pending_lots != account.pending:
            yield f"{label}: pending {account.pending} != pending lots {pending_lots}"
        for closed in (LotStatus.SPENT, LotStatus.EXPIRED, LotStatus.VOID):
            if lots.get(closed, 0):
                yield f"{label}: {closed} lots still hold {lots[closed]} points"
    yield from _chain_faults(chunk=chunk)


def _chain_faults(*, chunk: int) -> Iterator[str]:
    last: dict[int, str] = {}
    balance: dict[int, int] = defaultdict(int)
    fields = (
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
    for row in (
        PointsTransaction.objects.order_by("account_id", "id")
        .values_list(*fields)
        .iterator(chunk_size=chunk)
    ):
        (
            tx_id,
            account_id,
            kind,
            points,
            pending,
            balance_after,
            key,
            created_at,
            prev_hash,
            digest,
        ) = row
        expected_prev = last.get(account_id, GENESIS)
        if prev_hash != expected_prev:
            yield f"transaction {tx_id}: chain broken (prev_hash does not match the previous row)"
        computed = tx_hash(
            prev_hash=prev_hash,
            account_id=account_id,
            kind=kind,
            points=points,
            pending_points=pending,
            balance_after=balance_after,
            idempotency_key=key,
            created_at=created_at,
        )
        if computed != digest:
            yield f"transaction {tx_id}: hash does not match its contents"
        balance[account_id] += points
        if balance[account_id] != balance_after:
            running = balance[account_id]
            yield f"transaction {tx_id}: balance_after {balance_after} != running sum {running}"
        last[account_id] = digest
    for account_id, last_hash in LoyaltyAccount.objects.values_list("pk", "last_hash"):
        if last.get(account_id, "") != (last_hash if last_hash else "") and not (
            account_id not in last and not last_hash
        ):
            yield f"account {account_id}: last_hash does not match its newest transaction"
