"""The purchase summary the models read: per customer, purchase days up to a date.

Several orders on one calendar day (in the business time zone) are one purchase day, as in the
papers; a refunded order does not count and a partly refunded one counts for what was kept. One
SQL statement does the work (purchase days, then per customer: days, first and last day, spend and
the first day's spend), so the database, not Python, walks the orders.
"""

import datetime as dt
from dataclasses import dataclass

import numpy as np
from django.conf import settings
from django.db import connection
from django.utils import timezone

from apps.customers.enums import OrderStatus
from apps.customers.models import Order

_SQL = """
WITH days AS (
    SELECT o.customer_id AS cid, {day} AS day, COUNT(*) AS orders,
           SUM(o.total - o.refunded_amount) AS value
    FROM {orders} o
    WHERE o.customer_id IS NOT NULL AND o.placed_at < %s AND o.status <> %s
    GROUP BY 1, 2
), ranked AS (
    SELECT cid, day, orders, value, ROW_NUMBER() OVER (PARTITION BY cid ORDER BY day) AS n
    FROM days
)
SELECT cid, SUM(orders), COUNT(*), MIN(day), MAX(day), SUM(value),
       SUM(CASE WHEN n = 1 THEN value ELSE 0 END)
FROM ranked GROUP BY cid ORDER BY cid
"""


@dataclass(frozen=True)
class Summary:
    """Arrays aligned on ``customer_ids`` (customers with at least one purchase day)."""

    as_of: dt.date
    customer_ids: np.ndarray
    orders: np.ndarray
    days: np.ndarray
    first: np.ndarray  # date ordinals
    last: np.ndarray
    spend: np.ndarray
    first_spend: np.ndarray

    def __len__(self) -> int:
        return len(self.customer_ids)

    @property
    def frequency(self) -> np.ndarray:
        """Repeat purchase days (the papers' x)."""
        return self.days - 1

    @property
    def recency_weeks(self) -> np.ndarray:
        """Weeks from the first purchase day to the last (the papers' t_x)."""
        return (self.last - self.first) / 7.0

    @property
    def age_weeks(self) -> np.ndarray:
        """Weeks from the first purchase day to the as-of date (the papers' T)."""
        return (self.as_of.toordinal() - self.first) / 7.0

    @property
    def days_since_last(self) -> np.ndarray:
        return self.as_of.toordinal() - self.last

    @property
    def monetary(self) -> np.ndarray:
        """Mean value of the repeat purchase days (the first is left out, as Gamma-Gamma wants);
        0 for one-time buyers."""
        repeat = np.maximum(self.days - 1, 1)
        return np.where(self.days > 1, (self.spend - self.first_spend) / repeat, 0.0)


def day_start(day: dt.date) -> dt.datetime:
    """Midnight at the start of ``day`` in the business time zone."""
    return dt.datetime.combine(day, dt.time.min, tzinfo=timezone.get_default_timezone())


def _ordinal(value) -> int:
    return (value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))).toordinal()


def purchase_summary(*, as_of: dt.date) -> Summary:
    """Purchase days on or before ``as_of`` (a business-time-zone date)."""
    day, day_params = connection.ops.datetime_cast_date_sql("o.placed_at", (), settings.TIME_ZONE)
    sql = _SQL.format(day=day, orders=connection.ops.quote_name(Order._meta.db_table))
    # Adapted as a DateTimeField value would be (UTC text on SQLite, as the column holds it).
    end = connection.ops.adapt_datetimefield_value(day_start(as_of + dt.timedelta(days=1)))
    with connection.cursor() as cursor:
        cursor.execute(sql, [*day_params, end, OrderStatus.REFUNDED])
        rows = cursor.fetchall()
    n = len(rows)
    ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=n)
    return Summary(
        as_of=as_of,
        customer_ids=ids,
        orders=np.fromiter((r[1] for r in rows), dtype=np.int64, count=n),
        days=np.fromiter((r[2] for r in rows), dtype=np.int64, count=n),
        first=np.fromiter((_ordinal(r[3]) for r in rows), dtype=np.int64, count=n),
        last=np.fromiter((_ordinal(r[4]) for r in rows), dtype=np.int64, count=n),
        spend=np.fromiter((float(r[5]) for r in rows), dtype=np.float64, count=n),
        first_spend=np.fromiter((float(r[6]) for r in rows), dtype=np.float64, count=n),
    )
