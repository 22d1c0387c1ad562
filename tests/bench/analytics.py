"""Customer value at volume (issue 12), each next to its physical reference in the same run:

- ``metrics_recompute`` (purchase summary, BG/NBD and Gamma-Gamma fits, the churn model's
  back-test, RFM, health, one upsert per customer) over the bench programme (100,000 customers,
  1.2M orders at scale 1), against the bare SQL RFM aggregate (one ``GROUP BY`` of the orders)
  plus the two model fits on its arrays — what any implementation has to pay;
- the BG/NBD fit alone on those customers (the figure the docs set next to published ones);
- a segment's live count (a purchase window, a monetary score and a tag exclusion) through
  ``segment_customers(...).count()``, against the same condition as hand-written SQL.
"""

from __future__ import annotations

import datetime as dt
import time

from django.db import connection
from django.utils import timezone

from apps.analytics.models import CustomerMetrics
from apps.analytics.rules.compiler import segment_customers
from apps.analytics.services.metrics import metrics_recompute
from apps.analytics.stats.bgnbd import bgnbd_fit
from apps.analytics.stats.gamma_gamma import gamma_gamma_fit
from apps.analytics.summary import day_start, purchase_summary
from tests.bench.measure import median_seconds, once, result_row, skipped

_BARE_RFM = """
SELECT customer_id, count(*), min(placed_at), max(placed_at), sum(total - refunded_amount)
FROM customers_order
WHERE customer_id IS NOT NULL AND placed_at < %(end)s AND status <> 'refunded'
GROUP BY customer_id
"""

RULES = {
    "all": [
        {"field": "orders.count", "op": "gte", "value": 12, "days": 365},
        {"field": "metrics.m_score", "op": "gte", "value": 4},
        {"not": {"field": "customer.tags", "op": "has", "value": "vip"}},
    ]
}

_BARE_COUNT = """
SELECT count(*) FROM customers_customer c
JOIN analytics_customermetrics m ON m.customer_id = c.id
WHERE c.merged_into_id IS NULL AND c.anonymized_at IS NULL
  AND m.m_score >= 4
  AND (SELECT count(*) FROM customers_order o
       WHERE o.customer_id = c.id AND o.status <> 'refunded' AND o.placed_at >= %(since)s) >= 12
  AND NOT EXISTS (SELECT 1 FROM customers_customer_tags ct JOIN customers_tag t ON t.id = ct.tag_id
                  WHERE ct.customer_id = c.id AND t.name = 'vip')
"""


def _bare_reference(as_of: dt.date) -> float:
    """The bare aggregate, fetched, plus both fits on the summary arrays."""
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(_BARE_RFM, {"end": day_start(as_of + dt.timedelta(days=1))})
        cursor.fetchall()
    sql = time.perf_counter() - started
    s = purchase_summary(as_of=as_of)
    fit, _ = once(lambda: bgnbd_fit(s.frequency, s.recency_weeks, s.age_weeks))
    gg, _ = once(lambda: gamma_gamma_fit(s.frequency, s.monetary))
    return sql + fit + gg


def measure_analytics(*, scale: float, runs: int) -> list[dict]:
    as_of = timezone.localdate() - dt.timedelta(days=1)
    s = purchase_summary(as_of=as_of)
    if len(s) < 100:
        return [skipped("metrics recompute", f"only {len(s):,} customers with orders")]
    orders = int(s.orders.sum())
    reference = _bare_reference(as_of)
    value, done = once(lambda: metrics_recompute(as_of=as_of))
    rows = [
        result_row(
            f"recompute_metrics, {done.customers:,} customers / {orders:,} orders "
            f"(churn back-test AUC {done.fit.churn.get('auc', 0):.3f})",
            value=value,
            unit="s",
            reference=reference,
            reference_label="bare SQL RFM aggregate + BG/NBD and Gamma-Gamma fits",
        )
    ]
    fit = median_seconds(lambda: bgnbd_fit(s.frequency, s.recency_weeks, s.age_weeks), 3)
    one_ll = median_seconds(lambda: purchase_summary(as_of=as_of), 1)
    rows.append(
        result_row(
            f"BG/NBD fit, {len(s):,} customers",
            value=fit,
            unit="s",
            reference=one_ll,
            reference_label="reading the purchase summary it fits",
        )
    )
    since = timezone.now() - dt.timedelta(days=365)
    count = segment_customers(RULES).count()

    def bare():
        with connection.cursor() as cursor:
            cursor.execute(_BARE_COUNT, {"since": since})
            return cursor.fetchone()[0]

    if bare() != count:
        return [*rows, skipped("segment live count", f"counts differ: {count} vs {bare()}")]
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE analytics_customermetrics")
    rows.append(
        result_row(
            f"segment live count, {CustomerMetrics.objects.count():,} customers ({count:,} match)",
            value=median_seconds(lambda: segment_customers(RULES).count(), runs) * 1000,
            unit="ms",
            reference=median_seconds(bare, runs) * 1000,
            reference_label="the same condition as hand-written SQL",
        )
    )
    return rows
