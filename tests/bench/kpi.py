"""The KPI dashboard at volume (issue 14): one day's KPIs for the whole programme computed from
the orders, ledger, answers and tickets (what the nightly snapshot does per scope) against the
bare SQL of its largest part (the window's order aggregate); and the dashboard page reading the
snapshots against the bare view (same middleware and session)."""

from __future__ import annotations

import datetime as dt

from django.db import connection
from django.urls import reverse
from django.utils import timezone

from apps.analytics.kpis import EVERYONE, Window, kpi_values
from apps.analytics.services.kpi import kpi_snapshot_take
from tests.bench.measure import _page, median_seconds, once, result_row, skipped

_BARE_ORDERS = """
SELECT count(*), sum(total - refunded_amount), count(DISTINCT customer_id)
FROM customers_order
WHERE customer_id IS NOT NULL AND status <> 'refunded' AND placed_at >= %s AND placed_at < %s
"""


def measure_kpi(client, *, runs: int) -> list[dict]:
    day = timezone.localdate() - dt.timedelta(days=1)
    window = Window(day)

    def bare() -> list:
        with connection.cursor() as cursor:
            cursor.execute(_BARE_ORDERS, [window.start, window.end])
            return cursor.fetchall()

    orders = bare()[0][0]
    if not orders:
        return [skipped("KPI computation", "no orders in the last 30 days")]
    seconds, _values = once(lambda: kpi_values(window=window))
    rows = [
        result_row(
            f"KPIs of one day, whole programme ({orders:,} orders in the window)",
            value=seconds * 1000,
            unit="ms",
            reference=median_seconds(bare, runs) * 1000,
            reference_label="bare SQL of the window's order aggregate",
        )
    ]
    # What the dashboard reads: the day, the window before and a year earlier.
    for when in (day, window.before().day, window.before(365).day):
        kpi_snapshot_take(day=when, scopes=[EVERYONE])
    noop_ms, noop_queries, _status = _page(client, "/bench/noop/", runs)
    page_ms, queries, status = _page(client, reverse("dashboard:kpi"), runs)
    if status != 200:
        return [*rows, skipped("KPI dashboard page", f"HTTP {status}")]
    rows.append(
        result_row(
            "KPI dashboard page, from the snapshots",
            value=page_ms,
            unit="ms",
            reference=noop_ms,
            reference_label="bare view, same middleware + session",
            queries=queries,
            reference_queries=noop_queries,
        )
    )
    return rows
