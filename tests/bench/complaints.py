"""Complaints at volume (issue 11), each next to its physical reference in the same run:

- the SLA sweep (``sla_sweep``: breaches recorded with their history rows) over 100,000 open
  tickets at scale 1, against a bare set-based ``UPDATE`` of the same rows (rolled back);
- the staff queue page at that size: latency and query count, against the bare SQL of the
  same page (its rows and its count);
- ``add_business_minutes`` on the cn-2026 calendar (lunch breaks, weekends, holidays, make-up
  days) per call, against a plain ``datetime + timedelta``.

Seeding is one ``INSERT … SELECT``: tickets spread over the members, filed over the last 20
days, a third already past their first-response target, a quarter past their resolution one.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone

from apps.complaints.models import Category, SLAPolicy, Ticket, TicketEvent
from apps.complaints.services.sweeps import sla_sweep
from apps.core.calendar import add_business_minutes
from apps.core.calendars import calendar_import
from apps.core.models import BusinessCalendar
from tests.bench.measure import _page, median_seconds, once, result_row, skipped

TICKETS_AT_SCALE_1 = 100_000


def _seed(n: int, now: dt.datetime) -> int:
    calendar, _created = calendar_import(
        document=json.loads(
            (Path(settings.BASE_DIR) / "fixtures" / "calendars" / "cn-2026.json").read_text()
        )
    )
    category, _ = Category.objects.get_or_create(
        code="bench", defaults={"name": "Bench", "name_en": "Bench", "name_zh_hans": "基准"}
    )
    policy, _ = SLAPolicy.objects.get_or_create(
        name="Bench",
        defaults={
            "name_en": "Bench",
            "name_zh_hans": "基准",
            "calendar": calendar,
            "first_response_minutes": 240,
            "resolution_minutes": 1440,
            "position": 999,
        },
    )
    TicketEvent.objects.filter(ticket__category=category).delete()
    Ticket.objects.filter(category=category).delete()
    with connection.cursor() as cursor:
        cursor.execute(
            """
            WITH members AS (
                SELECT id, row_number() OVER (ORDER BY id) - 1 AS rn FROM customers_customer
            ), total AS (SELECT count(*) AS n FROM customers_customer)
            INSERT INTO complaints_ticket (created_at, updated_at, reference, customer_id,
                channel, category_id, priority, status, subject, description, sla_policy_id,
                first_response_due, resolution_due, paused_minutes, escalation_level,
                reopened_count, satisfaction_comment)
            SELECT t, t, 'B-' || lpad(g::text, 9, '0'), m.id, 'api', %(category)s,
                   (ARRAY['low','normal','normal','high','urgent'])[1 + g %% 5],
                   (ARRAY['new','open','open','waiting_on_customer'])[1 + g %% 4],
                   'Bench ticket ' || g, 'Generated for the benchmark.', %(policy)s,
                   t + CASE WHEN g %% 3 = 0 THEN interval '2 hours' ELSE interval '30 days' END,
                   CASE WHEN g %% 4 = 3 THEN NULL
                        WHEN g %% 4 = 0 THEN t + interval '1 day'
                        ELSE t + interval '40 days' END,
                   0, 0, 0, ''
            FROM generate_series(1, %(n)s) AS g
            CROSS JOIN total
            JOIN members m ON m.rn = g %% total.n
            CROSS JOIN LATERAL (SELECT %(now)s::timestamptz - (g %% 20) * interval '1 day'
                                - interval '3 hours' AS t) AS times
            """,
            {"category": category.pk, "policy": policy.pk, "n": n, "now": now},
        )
        return cursor.rowcount


_BARE_SWEEP = """
UPDATE complaints_ticket SET first_response_breached_at = first_response_due
WHERE first_response_due <= %(now)s AND first_responded_at IS NULL
  AND first_response_breached_at IS NULL
  AND status IN ('new', 'open', 'waiting_on_customer');
UPDATE complaints_ticket SET resolution_breached_at = resolution_due
WHERE resolution_due <= %(now)s AND resolution_breached_at IS NULL
  AND status IN ('new', 'open', 'waiting_on_customer');
"""


def _bare_sweep(now: dt.datetime) -> float:
    with transaction.atomic():
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(_BARE_SWEEP, {"now": now})
        seconds = time.perf_counter() - started
        transaction.set_rollback(True)
    return seconds


_BARE_PAGE = """
SELECT t.id, t.reference, t.subject, t.priority, t.status, t.created_at, c.member_number,
       c.first_name, c.last_name, cat.name, u.full_name, tm.name,
       LEAST(CASE WHEN t.first_responded_at IS NULL THEN t.first_response_due END,
             t.resolution_due) AS next_due
FROM complaints_ticket t
JOIN customers_customer c ON c.id = t.customer_id
JOIN complaints_category cat ON cat.id = t.category_id
LEFT JOIN accounts_user u ON u.id = t.assignee_id
LEFT JOIN complaints_team tm ON tm.id = t.team_id
WHERE t.status IN ('new', 'open', 'waiting_on_customer')
ORDER BY next_due ASC NULLS LAST, t.created_at ASC
LIMIT 25;
SELECT count(*) FROM complaints_ticket WHERE status IN ('new', 'open', 'waiting_on_customer');
"""


def _bare_page() -> None:
    with connection.cursor() as cursor:
        cursor.execute(_BARE_PAGE)


def _business_minutes_rows() -> list[dict]:
    calendar = BusinessCalendar.objects.get(code="cn-2026")
    start = dt.datetime(2026, 9, 24, 16, 40, tzinfo=dt.UTC)  # before Mid-Autumn and National Day
    rows = []
    calls = 2000
    for label, minutes in (("1 hour", 60), ("3 days", 3 * 480), ("30 days", 30 * 480)):
        value = median_seconds(
            lambda m=minutes: [add_business_minutes(calendar, start, m) for _ in range(calls)], 5
        )
        reference = median_seconds(
            lambda m=minutes: [start + dt.timedelta(minutes=m) for _ in range(calls)], 5
        )
        rows.append(
            result_row(
                f"add_business_minutes, {label} (cn-2026)",
                value=value / calls * 1e6,
                unit="µs/call",
                reference=reference / calls * 1e6,
                reference_label="datetime + timedelta",
            )
        )
    return rows


def measure_complaints(client, *, scale: float, runs: int) -> list[dict]:
    n = max(1000, round(TICKETS_AT_SCALE_1 * scale))
    now = timezone.now()
    seeded = _seed(n, now)
    if seeded < n:
        return [skipped("SLA sweep", f"only {seeded:,} tickets seeded")]
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE complaints_ticket")
    reference = _bare_sweep(now)
    value, counts = once(lambda: sla_sweep(now=now))
    rows = [
        result_row(
            f"SLA sweep, {n:,} open tickets ({counts['first_response'] + counts['resolution']:,} "
            "breaches recorded)",
            value=value,
            unit="s",
            reference=reference,
            reference_label="bare UPDATE of the same rows",
        )
    ]
    url = reverse("dashboard:ticket-list") + "?view=open"
    page_ms, queries, status = _page(client, url, runs)
    if status != 200:
        return [*rows, skipped("ticket queue page", f"HTTP {status}")]
    bare = median_seconds(_bare_page, runs)
    rows.append(
        result_row(
            f"ticket queue page, {n:,} open tickets ({queries} queries)",
            value=page_ms,
            unit="ms",
            reference=bare * 1000,
            reference_label="bare SQL of the page's rows and count",
        )
    )
    return rows + _business_minutes_rows()
