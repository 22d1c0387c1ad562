"""Audited exports of loyalty reports (invariant 8): each function hands the header and the rows
to the caller's ``write`` (CSV or XLSX) and records the export through
``apps.core.services.export_record`` once it is built, so a failed export leaves no audit row."""

import datetime as dt
from collections.abc import Callable, Iterable
from typing import TypeVar

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from apps.accounts.models import User
from apps.core.db import in_ids
from apps.core.exports import XLSX_MAX_ROWS, money_cell
from apps.core.services import export_record
from apps.customers.exports import ExportColumn
from apps.customers.models import Customer

from .describe import MEMBER, describe
from .enums import CouponKind
from .models import CouponBatch, LoyaltyAccount, Tier
from .selectors import liability_report, transaction_list
from .staff_selectors import coupon_batch_codes, liability_monthly

COUPON_EXPORT_HEADER = [
    ExportColumn(gettext_lazy("Code")),
    ExportColumn(gettext_lazy("Kind")),
    ExportColumn(gettext_lazy("Value")),
    ExportColumn(gettext_lazy("Minimum spend"), money=True),
    ExportColumn(gettext_lazy("Valid from")),
    ExportColumn(gettext_lazy("Valid until")),
    ExportColumn(gettext_lazy("Uses per code")),
    ExportColumn(gettext_lazy("Uses")),
]


Written = TypeVar("Written")


# --- the customer export's loyalty columns (registered in LoyaltyConfig.ready) -------------------

CUSTOMER_COLUMNS = (
    ExportColumn(gettext_lazy("Tier")),
    ExportColumn(gettext_lazy("Points balance")),
    ExportColumn(gettext_lazy("Pending points")),
    ExportColumn(gettext_lazy("Lifetime points earned")),
)


def customer_loyalty_figures(customer_ids: list[int]) -> dict[int, tuple]:
    """Tier (its name in the active language), balance, pending and lifetime points of a chunk
    of customers: their accounts in one query, the tiers they hold in another (a handful of
    rows). A customer without an account gets empty cells."""
    accounts = list(
        LoyaltyAccount.objects.filter(in_ids("customer_id", customer_ids))
        .order_by()
        .values_list("customer_id", "tier_id", "balance", "pending", "lifetime_earned")
    )
    tier_ids = {tier_id for _pk, tier_id, *_rest in accounts if tier_id is not None}
    tiers = {t.pk: t.name for t in Tier.objects.filter(pk__in=tier_ids)} if tier_ids else {}
    return {
        pk: (tiers.get(tier_id, "") if tier_id else "", balance, pending, lifetime)
        for pk, tier_id, balance, pending, lifetime in accounts
    }


def liability_export(
    *,
    actor: User | None,
    months: int,
    since: dt.datetime,
    fmt: str,
    write: Callable[[list[str], Iterable[list]], Written],
) -> Written:
    """Monthly issued / redeemed / expired points since ``since``, then the totals, handed to
    ``write`` (header, rows); audited once ``write`` has returned, as ``coupon_batch_export``."""
    report = liability_report(since=since)
    series = liability_monthly(since=since)
    rows: list[list] = [
        [row.month.strftime("%Y-%m"), row.issued, row.redeemed, row.expired] for row in series
    ]
    rows += [
        [_("Total"), report.issued, report.redeemed, report.expired],
        [_("Outstanding points"), report.outstanding, "", ""],
        [_("Outstanding value"), money_cell(report.value), "", ""],
        [_("Pending points"), report.pending, "", ""],
        [_("Breakage rate"), report.breakage_rate, "", ""],
    ]
    header = [_("Month"), _("Points issued"), _("Points redeemed"), _("Points expired")]
    written = write(header, rows)
    export_record(
        actor=actor,
        what="liability",
        fmt=fmt,
        rows=len(rows),
        summary=f"points liability, {months} months, {fmt}",
        details={"months": months},
    )
    return written


def coupon_batch_export(
    *,
    actor: User | None,
    batch: CouponBatch,
    fmt: str,
    write: Callable[[list[str], Iterable[tuple]], Written],
) -> Written:
    """The batch's codes, handed to ``write`` (header, rows) which builds the download. Codes
    are bearer value: the caller checks the right to create batches, and the export is audited
    with the batch as its target — only once ``write`` has returned, so an export that fails
    leaves no audit row (an XLSX file is complete by then; CSV streams rows it cannot fail
    on)."""
    kinds = {k: str(v) for k, v in CouponKind.choices}

    def row(values: tuple) -> tuple:
        code, kind, value, min_spend, valid_from, valid_until, max_uses, uses = values
        return (
            code,
            kinds.get(kind, kind),
            money_cell(value) if kind == CouponKind.FIXED else value,
            money_cell(min_spend),
            valid_from,
            valid_until,
            max_uses,
            uses,
        )

    rows = map(row, coupon_batch_codes(batch=batch))
    written = write([str(h) for h in COUPON_EXPORT_HEADER], rows)
    export_record(
        actor=actor,
        what="coupons",
        fmt=fmt,
        rows=batch.size,
        target=batch,
        summary=f"{batch.name}: {batch.size} codes as {fmt}"[:300],
    )
    return written


POINTS_HISTORY_HEADER = [
    gettext_lazy("date"),
    gettext_lazy("kind"),
    gettext_lazy("description"),
    gettext_lazy("details"),
    gettext_lazy("points"),
    gettext_lazy("pending points"),
    gettext_lazy("balance after"),
    gettext_lazy("order"),
    gettext_lazy("store"),
]
_HISTORY_CHUNK = 500


def _history_rows(*, customer: Customer, filters: dict) -> list[list]:
    """The member's ledger rows (newest first) in words, read and described a chunk at a time
    (a fixed number of queries per chunk). A member's history is small enough to hold."""
    rows: list[list] = []
    last_id = None
    while len(rows) < XLSX_MAX_ROWS:
        qs = transaction_list(customer=customer, **filters)
        if last_id is not None:
            qs = qs.filter(id__lt=last_id)
        chunk = list(qs[:_HISTORY_CHUNK])
        if not chunk:
            break
        last_id = chunk[-1].pk
        for line in describe(chunk, audience=MEMBER):
            tx = line.tx
            rows.append(
                [
                    tx.created_at,
                    line.kind_label,
                    line.headline,
                    line.detail_text,
                    tx.points,
                    tx.pending_points,
                    tx.balance_after,
                    tx.order.external_id if tx.order is not None else "",
                    tx.order.store.name if tx.order is not None and tx.order.store_id else "",
                ]
            )
    return rows[:XLSX_MAX_ROWS]


def points_history_export(
    *,
    customer: Customer,
    actor: User | None,
    filters: dict,
    fmt: str,
    write: Callable[[list[str], Iterable[list]], Written],
) -> Written:
    """A member's own points history (``transaction_list`` filters), described in the active
    language, handed to ``write`` (header, rows): points as numbers, times as times. Audited
    with the member's account as its target once ``write`` has returned, as
    ``coupon_batch_export``."""
    rows = _history_rows(customer=customer, filters=filters)
    written = write([str(h) for h in POINTS_HISTORY_HEADER], rows)
    export_record(
        actor=actor,
        what="points_history",
        fmt=fmt,
        rows=len(rows),
        target=LoyaltyAccount.objects.filter(customer=customer).first(),
        summary=f"points history of member {customer.member_number}, {fmt}",
        details={k: str(v) for k, v in filters.items() if v},
    )
    return written
