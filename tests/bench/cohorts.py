"""Cohort retention at volume (issue 14): ``cohort_matrix`` (24 join-month cohorts × months since,
the figures the page shows) against the bare SQL of the same matrix — one hand-written
``date_trunc('month', … AT TIME ZONE …)`` query, fetched. The issue asks for at most 2×."""

from __future__ import annotations

from django.conf import settings
from django.db import connection
from django.utils import timezone

from apps.analytics.cohorts import CohortFilters, _month_index, _month_start, cohort_matrix
from tests.bench.measure import median_seconds, result_row, skipped

_BARE = """
WITH members AS (
    SELECT id AS cid, date_trunc('month', joined_at AT TIME ZONE %(tz)s) AS cohort
    FROM customers_customer
    WHERE merged_into_id IS NULL AND joined_at >= %(start)s AND joined_at < %(end)s
), buys AS (
    SELECT o.customer_id AS cid, date_trunc('month', o.placed_at AT TIME ZONE %(tz)s) AS month,
           sum(o.total - o.refunded_amount) AS revenue
    FROM customers_order o JOIN members m ON m.cid = o.customer_id
    WHERE o.status <> 'refunded' AND o.placed_at >= %(start)s AND o.placed_at < %(end)s
    GROUP BY 1, 2
)
SELECT cohort, NULL, count(*), 0 FROM members GROUP BY cohort
UNION ALL
SELECT m.cohort, b.month, count(*), sum(b.revenue)
FROM members m JOIN buys b ON b.cid = m.cid
WHERE b.month >= m.cohort
GROUP BY 1, 2
"""


def measure_cohorts(*, runs: int) -> list[dict]:
    filters = CohortFilters(months=24)
    as_of = timezone.localdate()
    last = _month_index(as_of)
    params = {
        "tz": settings.TIME_ZONE,
        "start": _month_start(last - filters.months + 1),
        "end": _month_start(last + 1),
    }

    def bare() -> list:
        with connection.cursor() as cursor:
            cursor.execute(_BARE, params)
            return cursor.fetchall()

    matrix = cohort_matrix(filters=filters, as_of=as_of)
    sizes = sum(row[2] for row in bare() if row[1] is None)
    if sizes != matrix.members:
        return [skipped("cohort matrix", f"members differ: {matrix.members} vs {sizes}")]
    if not matrix.members:
        return [skipped("cohort matrix", "no members joined in the last 24 months")]
    return [
        result_row(
            f"cohort matrix, 24 join-month cohorts, {matrix.members:,} members",
            value=median_seconds(lambda: cohort_matrix(filters=filters, as_of=as_of), runs) * 1000,
            unit="ms",
            reference=median_seconds(bare, runs) * 1000,
            reference_label="the same matrix as one hand-written SQL query",
        )
    ]
