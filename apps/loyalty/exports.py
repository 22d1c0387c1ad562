"""Audited exports of loyalty reports (invariant 8): each function hands the header and the rows
to the caller's ``write`` (CSV or XLSX) and records the export through
``apps.core.services.export_record`` once it is built, so a failed export leaves no audit row."""

import datetime as dt
from collections.abc import Callable, Iterable
from typing import TypeVar

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from apps.accounts.models import User
from apps.core.services import export_record

from .models import CouponBatch
from .selectors import liability_report
from .staff_selectors import coupon_batch_codes, liability_monthly

COUPON_EXPORT_HEADER = [
    gettext_lazy("code"),
    gettext_lazy("kind"),
    gettext_lazy("value"),
    gettext_lazy("minimum spend"),
    gettext_lazy("valid from"),
    gettext_lazy("valid until"),
    gettext_lazy("uses per code"),
    gettext_lazy("uses"),
]


Written = TypeVar("Written")


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
        [_("total"), report.issued, report.redeemed, report.expired],
        [_("outstanding points"), report.outstanding, "", ""],
        [_("outstanding value"), report.value, "", ""],
        [_("pending points"), report.pending, "", ""],
        [_("breakage rate"), report.breakage_rate, "", ""],
    ]
    written = write([_("month"), _("issued"), _("redeemed"), _("expired")], rows)
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
    written = write([str(h) for h in COUPON_EXPORT_HEADER], coupon_batch_codes(batch=batch))
    export_record(
        actor=actor,
        what="coupons",
        fmt=fmt,
        rows=batch.size,
        target=batch,
        summary=f"{batch.name}: {batch.size} codes as {fmt}"[:300],
    )
    return written
