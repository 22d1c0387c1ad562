"""Cohort retention: members grouped by the month they joined (or first bought) × months since.

Definitions (``docs/decisions.md``, "Cohort retention"):

- **Month** is a calendar month in the business time zone (``settings.TIME_ZONE``): an order at
  23:30 local time on 31 January is January's, whatever its UTC date.
- **Cohort** (``basis``): ``joined`` — the month of ``Customer.joined_at``; ``first_purchase`` —
  the month of the member's first purchase ever. The matrix shows the last ``months`` cohorts
  (12 or 24), the current month included; months since run 0 … ``months`` − 1 and stop at the
  current month (a cohort of three months ago has months 0 to 3).
- **Purchase**: an order that was not refunded in full (status ``refunded`` is the
  order taken back, as in ``summary.py``; the order model has no other cancelled state); a part
  refund counts for what was kept. Orders placed before the cohort month (an imported history
  older than the card) are left out.
- **Retention** at month k: members of the cohort who bought in month k, as a count and as a
  share of the cohort's size. **Revenue per member** at month k: what the cohort spent in month k,
  net of refunds, divided by the cohort's size (every member, buyers or not).
- **Members**: every customer not merged into another (a merged duplicate's orders and earlier
  join date went to the survivor). Anonymised customers stay: erasure removes who they were, not
  that they joined and bought, and their orders are kept — dropping them would make past cohorts
  shrink each time someone asks to be forgotten.
- **Filters** describe the member as they are now: ``store`` their enrolment store, ``tier``
  their loyalty account's current tier, ``source`` how they were acquired.

One SQL statement computes the whole matrix (cohort sizes and the cells) on PostgreSQL and on
SQLite; the month of a timestamp comes from the backend's own time-zone-aware extraction
(``EXTRACT(… FROM col AT TIME ZONE %s)`` on PostgreSQL), as ``summary.py`` does for days.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.db import connections, router
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.core.exports import money_cell, money_header
from apps.core.replica import reporting
from apps.core.services import export_record
from apps.customers.enums import OrderStatus
from apps.customers.models import Customer, Order
from apps.loyalty.models import LoyaltyAccount

BASIS_JOINED = "joined"
BASIS_FIRST_PURCHASE = "first_purchase"
BASES = (BASIS_JOINED, BASIS_FIRST_PURCHASE)
MONTH_CHOICES = (12, 24)

_ZERO = Decimal(0)
_CENT = Decimal("0.01")


@dataclass(frozen=True)
class CohortFilters:
    """What the matrix is cut by; ``None`` (or "") is no filter."""

    basis: str = BASIS_JOINED
    months: int = 12
    store_id: int | None = None
    tier_id: int | None = None
    source: str = ""

    def __post_init__(self):
        if self.basis not in BASES:
            raise ValueError(f"basis must be one of {BASES}")
        if self.months not in MONTH_CHOICES:
            raise ValueError(f"months must be one of {MONTH_CHOICES}")

    def audit(self) -> dict:
        """The filters as recorded on an export's audit row (only those that are set)."""
        values = {
            "basis": self.basis,
            "months": self.months,
            "store": self.store_id,
            "tier": self.tier_id,
            "source": self.source,
        }
        return {k: v for k, v in values.items() if v}


@dataclass(frozen=True)
class CohortCell:
    buyers: int
    revenue: Decimal
    size: int

    @property
    def rate(self) -> float:
        """Share of the cohort who bought, 0–1."""
        return self.buyers / self.size if self.size else 0.0

    @property
    def percent(self) -> float:
        """The share as a percentage to one decimal, as the page and the export show it."""
        return round(self.rate * 100, 1)

    @property
    def revenue_per_member(self) -> Decimal:
        if not self.size:
            return _ZERO
        return (self.revenue / self.size).quantize(_CENT)


@dataclass
class CohortRow:
    month: dt.date  # the first day of the cohort's month
    size: int
    # One per months-since 0 … N − 1; None where that month has not come yet.
    cells: list[CohortCell | None] = field(default_factory=list)


@dataclass
class CohortMatrix:
    filters: CohortFilters
    as_of: dt.date
    rows: list[CohortRow]

    @property
    def offsets(self) -> list[int]:
        return list(range(self.filters.months))

    @property
    def members(self) -> int:
        return sum(row.size for row in self.rows)

    @property
    def max_revenue_per_member(self) -> Decimal:
        return max(
            (c.revenue_per_member for row in self.rows for c in row.cells if c is not None),
            default=_ZERO,
        )


# {month} is the month index (12 × year + month − 1) of a timestamp in the business time zone.
_MEMBERS_JOINED = """
    SELECT c.id AS cid, {month_joined} AS cohort
    FROM {customers} c {tier_join}
    WHERE c.merged_into_id IS NULL AND c.joined_at >= %s AND c.joined_at < %s {where}
"""

_MEMBERS_FIRST_PURCHASE = """
    SELECT c.id AS cid, {month_first} AS cohort
    FROM {customers} c {tier_join}
    JOIN (SELECT o.customer_id AS cid, MIN(o.placed_at) AS first_at
          FROM {orders} o
          WHERE o.customer_id IS NOT NULL AND o.status <> %s
          GROUP BY o.customer_id) f ON f.cid = c.id
    WHERE c.merged_into_id IS NULL AND f.first_at >= %s AND f.first_at < %s {where}
"""

_SQL = """
WITH members AS ({members}),
buys AS (
    SELECT o.customer_id AS cid, {month_placed} AS month,
           SUM(o.total - o.refunded_amount) AS revenue
    FROM {orders} o JOIN members m ON m.cid = o.customer_id
    WHERE o.status <> %s AND o.placed_at >= %s AND o.placed_at < %s
    GROUP BY 1, 2
)
SELECT m.cohort, -1, COUNT(*), 0 FROM members m GROUP BY m.cohort
UNION ALL
SELECT m.cohort, b.month - m.cohort, COUNT(*), SUM(b.revenue)
FROM members m JOIN buys b ON b.cid = m.cid
WHERE b.month >= m.cohort
GROUP BY m.cohort, b.month - m.cohort
"""


def _money(value) -> Decimal:
    """A summed amount to the cent (SQLite sums decimals as floats)."""
    return Decimal(str(value or 0)).quantize(_CENT)


def _month_index(day: dt.date) -> int:
    return day.year * 12 + day.month - 1


def _month_of(index: int) -> dt.date:
    return dt.date(index // 12, index % 12 + 1, 1)


def _month_start(index: int) -> dt.datetime:
    """Midnight on the first of the month ``index`` in the business time zone."""
    return dt.datetime.combine(
        _month_of(index), dt.time.min, tzinfo=timezone.get_default_timezone()
    )


def _month_sql(conn, column: str) -> tuple[str, list]:
    year, year_params = conn.ops.datetime_extract_sql("year", column, (), settings.TIME_ZONE)
    month, month_params = conn.ops.datetime_extract_sql("month", column, (), settings.TIME_ZONE)
    return (
        f"CAST(({year}) * 12 + ({month}) - 1 AS integer)",
        [*year_params, *month_params],
    )


def cohort_sql(*, filters: CohortFilters, as_of: dt.date, using: str | None = None):
    """The matrix's one SQL statement and its parameters, for ``filters`` up to ``as_of`` (a
    business-time-zone date): rows ``(cohort month index, months since or -1 for the cohort's
    size, members, revenue)``."""
    conn = connections[using or router.db_for_read(Order)]
    qn = conn.ops.quote_name
    last = _month_index(as_of)
    first = last - filters.months + 1
    start = conn.ops.adapt_datetimefield_value(_month_start(first))
    end = conn.ops.adapt_datetimefield_value(_month_start(last + 1))

    tier_join, where, where_params = "", "", []
    if filters.tier_id:
        tier_join = f"JOIN {qn(LoyaltyAccount._meta.db_table)} a ON a.customer_id = c.id"
        where += " AND a.tier_id = %s"
        where_params.append(filters.tier_id)
    if filters.store_id:
        where += " AND c.store_id = %s"
        where_params.append(filters.store_id)
    if filters.source:
        where += " AND c.source = %s"
        where_params.append(filters.source)

    customers, orders = qn(Customer._meta.db_table), qn(Order._meta.db_table)
    if filters.basis == BASIS_JOINED:
        month_joined, joined_params = _month_sql(conn, "c.joined_at")
        members = _MEMBERS_JOINED.format(
            month_joined=month_joined, customers=customers, tier_join=tier_join, where=where
        )
        members_params = [*joined_params, start, end, *where_params]
    else:
        month_first, first_params = _month_sql(conn, "f.first_at")
        members = _MEMBERS_FIRST_PURCHASE.format(
            month_first=month_first,
            customers=customers,
            orders=orders,
            tier_join=tier_join,
            where=where,
        )
        members_params = [*first_params, OrderStatus.REFUNDED, start, end, *where_params]
    month_placed, placed_params = _month_sql(conn, "o.placed_at")
    sql = _SQL.format(members=members, orders=orders, month_placed=month_placed)
    params = [
        *members_params,
        *placed_params,
        OrderStatus.REFUNDED,
        start,
        end,
    ]
    return conn, sql, params


# A report: read from the replica when there is one (apps.core.replica).
@reporting()
def cohort_matrix(*, filters: CohortFilters, as_of: dt.date | None = None) -> CohortMatrix:
    """The cohort matrix for ``filters``, the newest cohort being ``as_of``'s month (today in
    the business time zone by default). One query."""
    as_of = as_of or timezone.localdate()
    conn, sql, params = cohort_sql(filters=filters, as_of=as_of)
    with conn.cursor() as cursor:
        cursor.execute(sql, params)
        fetched = cursor.fetchall()
    sizes: dict[int, int] = {}
    cells: dict[tuple[int, int], tuple[int, Decimal]] = {}
    for cohort, offset, count, revenue in fetched:
        if offset < 0:
            sizes[int(cohort)] = int(count)
        else:
            cells[int(cohort), int(offset)] = (int(count), _money(revenue))
    last = _month_index(as_of)
    rows = []
    for index in range(last - filters.months + 1, last + 1):
        size = sizes.get(index, 0)
        row = CohortRow(month=_month_of(index), size=size)
        for offset in range(filters.months):
            if index + offset > last:
                row.cells.append(None)
                continue
            buyers, revenue = cells.get((index, offset), (0, _ZERO))
            row.cells.append(CohortCell(buyers=buyers, revenue=revenue, size=size))
        rows.append(row)
    return CohortMatrix(filters=filters, as_of=as_of, rows=rows)


# --- export -----------------------------------------------------------------------------------


def cohort_rows(matrix: CohortMatrix) -> tuple[list[str], list[list]]:
    """The matrix as a spreadsheet, one row per cohort and month since (both measures), in the
    reader's language: the figures the page shows, to the same rounding."""
    header = [
        _("Cohort"),
        _("Members"),
        _("Months since"),
        _("Buyers"),
        _("Retention (%)"),
        money_header(_("Revenue")),
        money_header(_("Revenue per member")),
    ]
    rows = []
    for row in matrix.rows:
        for offset, cell in enumerate(row.cells):
            if cell is None:
                break
            rows.append(
                [
                    row.month.strftime("%Y-%m"),
                    row.size,
                    offset,
                    cell.buyers,
                    cell.percent,
                    money_cell(cell.revenue),
                    money_cell(cell.revenue_per_member),
                ]
            )
    return header, rows


def cohort_export(*, matrix: CohortMatrix, actor, fmt: str) -> tuple[list[str], list[list]]:
    """The matrix's rows, audited as ``export.cohorts`` with the filters it was cut by."""
    header, rows = cohort_rows(matrix)
    export_record(
        actor=actor,
        what="cohorts",
        fmt=fmt,
        rows=len(rows),
        details={"filters": matrix.filters.audit(), "as_of": matrix.as_of.isoformat()},
    )
    return header, rows
