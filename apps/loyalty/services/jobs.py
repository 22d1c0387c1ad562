"""Nightly ledger jobs: pending points mature, lots expire, birthday bonuses.

Maturation and expiry are set-based in chunks of accounts, with no model instance and no query
per row. One chunk is one transaction: lock its accounts in pk order and read their counters
(one query), read their due lots (one query), chain the ledger rows in a tight loop
(``_chain``: ``ledger.tx_payload`` with its constant parts formatted once per run), write them
with ``COPY`` (one statement), then one UPDATE for the lots and one for the accounts.

Exactly once (invariant 2): a chunk reads its due lots only once it holds the locks of their
accounts, so a run that overlaps another waits for that chunk to commit and then finds those
lots closed; and each lot's ledger key (``lot:<id>:mature`` / ``lot:<id>:expire``) is unique, so
a second row for a lot could not commit anyway. (The Celery tasks also take a job lock, so two
runs should not overlap in the first place.)"""

import datetime as dt
import hashlib
import hmac
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.core.bulk import rows_insert
from apps.core.db import bulk_update_rows, in_ids
from apps.customers.models import Customer

from .. import ledger
from ..enums import BonusKind, LotStatus, TxKind
from ..locks import account_ensure
from ..models import LoyaltyAccount, PointsLot, PointsTransaction, Programme
from .bonuses import bonus_award, debt_settle

# What a job writes per lot; ``detail`` is left to its database default ({}).
LEDGER_COLUMNS = (
    "account_id", "kind", "points", "pending_points", "balance_after", "reason", "lot_id",
    "order_id", "source_ref", "idempotency_key", "created_at", "prev_hash", "hash",
)  # fmt: skip
ACCOUNT_FIELDS = ["balance", "pending", "last_hash"]


@dataclass(frozen=True)
class _Due:
    """One job: open lots in ``status`` whose ``field`` has passed move to ``to``; each gets a
    ``kind`` ledger row keyed ``lot:<id>:<kind>``. Maturing moves the lot's points from pending
    to the balance and links the row to the lot's order; expiring takes them off the balance
    and empties the lot."""

    status: str
    field: str
    to: str
    kind: str

    @property
    def matures(self) -> bool:
        return self.kind == TxKind.MATURE.value

    def due(self, as_of: dt.datetime):
        return PointsLot.objects.filter(
            status=self.status, remaining__gt=0, **{f"{self.field}__lte": as_of}
        )


MATURE = _Due(
    LotStatus.PENDING.value, "available_at", LotStatus.AVAILABLE.value, TxKind.MATURE.value
)
EXPIRE = _Due(LotStatus.AVAILABLE.value, "expires_at", LotStatus.EXPIRED.value, TxKind.EXPIRE.value)


@dataclass
class _Run:
    """What every chunk of one run shares: the job, its time, the reason its rows carry, and
    the keyed HMAC each row's hash copies."""

    job: _Due
    as_of: dt.datetime
    reason: str
    mac: hmac.HMAC
    at_text: str = ""

    def __post_init__(self) -> None:
        # ``tx_payload`` formats the time as UTC ISO 8601; every row of a run has the same.
        self.at_text = self.as_of.astimezone(dt.UTC).isoformat()


def _chain(run: _Run, accounts: dict[int, tuple], lots: list[tuple]):
    """The ledger rows of ``lots`` (``(id, account_id, remaining, order_id)`` in chain order:
    account, then due time, then id), each chained to the one before it of its account, and the
    accounts' counters after them as ``(id, balance, pending, last_hash)``.

    The hash is ``ledger.tx_hash``'s: HMAC-SHA-256 over ``ledger.tx_payload``, i.e.
    ``prev|account|kind|points|pending_points|balance_after|key|created_at`` (a test holds the
    two equal; ``verify_ledger`` recomputes every row with ``tx_hash``)."""
    kind, matures, at_text, as_of = run.job.kind, run.job.matures, run.at_text, run.as_of
    reason, copy = run.reason, run.mac.copy
    rows, counters = [], []
    current = None
    balance = pending = 0
    prev = ""
    for lot_id, account_id, remaining, order_id in lots:
        if account_id != current:
            if current is not None:
                counters.append((current, balance, pending, prev))
            current = account_id
            balance, pending, prev = accounts[account_id]
            prev = prev or ledger.GENESIS
        if matures:
            points, held = remaining, -remaining
            pending -= remaining
        else:
            points, held, order_id = -remaining, 0, None
        balance += points
        key = f"lot:{lot_id}:{kind}"
        mac = copy()
        mac.update(f"{prev}|{account_id}|{kind}|{points}|{held}|{balance}|{key}|{at_text}".encode())
        digest = mac.hexdigest()
        rows.append(
            (account_id, kind, points, held, balance, reason, lot_id, order_id, "", key, as_of,
             prev, digest)
        )  # fmt: skip
        prev = digest
    if current is not None:
        counters.append((current, balance, pending, prev))
    return rows, counters


def _chunk(run: _Run, account_ids: list[int]) -> int:
    job = run.job
    locked = (
        LoyaltyAccount.objects.select_for_update()
        .filter(in_ids("id", account_ids))
        .order_by("pk")
        .values_list("pk", "balance", "pending", "last_hash", "debt")
    )
    accounts, owing = {}, set()
    for pk, balance, pending, last_hash, debt in locked:
        accounts[pk] = (balance, pending, last_hash)
        if debt > 0:
            owing.add(pk)
    # Read after the locks are held: a run that overlaps this one has committed by now.
    lots = list(
        job.due(run.as_of)
        .filter(in_ids("account_id", list(accounts)))
        .order_by("account_id", job.field, "id")
        .values_list("id", "account_id", "remaining", "order_id")
    )
    if not lots:
        return 0
    rows, counters = _chain(run, accounts, lots)
    rows_insert(model=PointsTransaction, columns=LEDGER_COLUMNS, rows=rows)
    # The same lots as read above: their accounts are locked, so none has changed since.
    closed = {"status": job.to} if job.matures else {"status": job.to, "remaining": 0}
    updated = job.due(run.as_of).filter(in_ids("account_id", list(accounts))).update(**closed)
    if updated != len(lots):
        raise RuntimeError(f"{job.kind}: {updated} lots closed, {len(lots)} read")
    bulk_update_rows(LoyaltyAccount, ACCOUNT_FIELDS, counters, same={"updated_at": timezone.now()})
    settle = [pk for pk, *_counters in counters if pk in owing] if job.matures else []
    if settle:
        # Points owed from an earlier clawback come out of the points that just matured.
        for account in LoyaltyAccount.objects.filter(in_ids("id", settle)).order_by("pk"):
            debt_settle(
                account=account, key=f"settle:{account.pk}:{account.last_hash[:16]}", at=run.as_of
            )
    return len(lots)


def _process(job: _Due, *, as_of: dt.datetime, chunk: int, reason: str) -> int:
    run = _Run(
        job=job,
        as_of=as_of,
        reason=reason[:200],
        mac=hmac.new(ledger.ledger_key(), digestmod=hashlib.sha256),
    )
    ids = list(
        job.due(as_of).order_by("account_id").values_list("account_id", flat=True).distinct()
    )
    done = 0
    for start in range(0, len(ids), chunk):
        with transaction.atomic():
            done += _chunk(run, ids[start : start + chunk])
    return done


def points_mature_due(*, as_of: dt.datetime | None = None, chunk: int = 1000) -> int:
    """Pending lots whose return window has passed become spendable; points owed from a
    clawback are settled from them. Returns lots matured."""
    return _process(
        MATURE, as_of=as_of or timezone.now(), chunk=chunk, reason=_("Return window passed")
    )


def points_expire_due(*, as_of: dt.datetime | None = None, chunk: int = 1000) -> int:
    """Available lots past their expiry lose what remains. Returns lots expired."""
    return _process(EXPIRE, as_of=as_of or timezone.now(), chunk=chunk, reason=_("Points expired"))


def birthday_bonuses_award(*, today: dt.date | None = None, at: dt.datetime | None = None) -> int:
    """The programme's birthday bonus, once a year, to members whose birthday is today
    (29 February birthdays are celebrated on 28 February in other years) and who had enrolled
    by then. ``at`` dates the awards (default now; back-filled history passes a time on
    ``today``). Returns how many were awarded."""
    at = at or timezone.now()
    today = today or timezone.localdate(at)
    programme = Programme.get()
    if not programme.birthday_bonus:
        return 0
    members = Customer.objects.filter(
        anonymized_at__isnull=True, merged_into__isnull=True, joined_at__lte=at
    )
    qs = members.filter(birth_date__month=today.month, birth_date__day=today.day)
    ids = list(qs.values_list("pk", flat=True))
    if today.month == 2 and today.day == 28 and not _is_leap(today.year):
        ids += list(
            members.filter(birth_date__month=2, birth_date__day=29).values_list("pk", flat=True)
        )
    awarded = 0
    for customer in Customer.objects.filter(pk__in=ids).order_by("pk"):
        account_ensure(customer_id=customer.pk)
        with transaction.atomic():
            if (
                bonus_award(
                    customer=customer,
                    points=programme.birthday_bonus,
                    key=f"bonus:birthday:{customer.pk}:{today.year}",
                    reason=_("Happy birthday!"),
                    at=at,
                    detail={"bonus": BonusKind.BIRTHDAY},
                )
                is not None
            ):
                awarded += 1
    return awarded


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
