"""Nightly ledger jobs: pending points mature, lots expire, birthday bonuses.

Set-based in chunks of accounts: one chunk locks its accounts in pk order, reads their due lots
in one query, builds the chained ledger rows in memory and writes them with one bulk insert and
one UPDATE per table. Each lot's key (``lot:<id>:mature`` / ``lot:<id>:expire``) is unique, so
a second or concurrent run finds nothing left to do (invariant 2)."""

import datetime as dt
from collections import defaultdict

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.core.db import bulk_insert, bulk_update_fields
from apps.customers.models import Customer

from .. import ledger
from ..enums import BonusKind, LotStatus, TxKind
from ..locks import account_ensure, lock_accounts
from ..models import LoyaltyAccount, PointsLot, PointsTransaction, Programme
from .bonuses import bonus_award, debt_settle


def _due_account_ids(*, status: str, field: str, as_of: dt.datetime) -> list[int]:
    return list(
        PointsLot.objects.filter(status=status, remaining__gt=0, **{f"{field}__lte": as_of})
        .order_by("account_id")
        .values_list("account_id", flat=True)
        .distinct()
    )


def _process(*, status: str, field: str, as_of: dt.datetime, chunk: int, apply) -> int:
    done = 0
    ids = _due_account_ids(status=status, field=field, as_of=as_of)
    for start in range(0, len(ids), chunk):
        with transaction.atomic():
            accounts = lock_accounts(account_ids=ids[start : start + chunk])
            lots = list(
                PointsLot.objects.filter(
                    account_id__in=list(accounts),
                    status=status,
                    remaining__gt=0,
                    **{f"{field}__lte": as_of},
                ).order_by("account_id", field, "id")
            )
            by_account = defaultdict(list)
            for lot in lots:
                by_account[lot.account_id].append(lot)
            done += apply(accounts, by_account)
    return done


def points_mature_due(*, as_of: dt.datetime | None = None, chunk: int = 1000) -> int:
    """Pending lots whose return window has passed become spendable. Returns lots matured."""
    as_of = as_of or timezone.now()

    def apply(accounts, by_account) -> int:
        txs, lot_ids, settle = [], [], []
        for account_id, lots in by_account.items():
            account = accounts[account_id]
            for lot in lots:
                txs.append(
                    ledger.build(
                        account=account,
                        kind=TxKind.MATURE,
                        key=f"lot:{lot.pk}:mature",
                        points=lot.remaining,
                        pending_points=-lot.remaining,
                        reason=_("Return window passed"),
                        lot=lot,
                        order_id=lot.order_id,
                        at=as_of,
                    )
                )
                lot_ids.append(lot.pk)
            if account.debt:
                settle.append(account)
        bulk_insert(PointsTransaction, txs)
        PointsLot.objects.filter(pk__in=lot_ids).update(status=LotStatus.AVAILABLE)
        bulk_update_fields(
            LoyaltyAccount, [accounts[a] for a in by_account], ledger.ACCOUNT_COUNTERS
        )
        for account in settle:
            debt_settle(
                account=account, key=f"settle:{account.pk}:{account.last_hash[:16]}", at=as_of
            )
        return len(lot_ids)

    return _process(
        status=LotStatus.PENDING, field="available_at", as_of=as_of, chunk=chunk, apply=apply
    )


def points_expire_due(*, as_of: dt.datetime | None = None, chunk: int = 1000) -> int:
    """Available lots past their expiry lose what remains. Returns lots expired."""
    as_of = as_of or timezone.now()

    def apply(accounts, by_account) -> int:
        txs, lot_ids = [], []
        for account_id, lots in by_account.items():
            account = accounts[account_id]
            for lot in lots:
                txs.append(
                    ledger.build(
                        account=account,
                        kind=TxKind.EXPIRE,
                        key=f"lot:{lot.pk}:expire",
                        points=-lot.remaining,
                        reason=_("Points expired"),
                        lot=lot,
                        at=as_of,
                    )
                )
                lot_ids.append(lot.pk)
        bulk_insert(PointsTransaction, txs)
        PointsLot.objects.filter(pk__in=lot_ids).update(status=LotStatus.EXPIRED, remaining=0)
        bulk_update_fields(
            LoyaltyAccount, [accounts[a] for a in by_account], ledger.ACCOUNT_COUNTERS
        )
        return len(lot_ids)

    return _process(
        status=LotStatus.AVAILABLE, field="expires_at", as_of=as_of, chunk=chunk, apply=apply
    )


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
