"""The audit trail at scale: seeding and measurements of ``/staff/audit/``.

Seeding (``seed_audit``) writes ``AUDIT_ROWS_AT_SCALE_1`` rows (1,000,000 at scale 1) in one
set-based ``INSERT ... SELECT generate_series``: eight action codes, nine actors in ten (five
bench staff accounts; the tenth is the system), customer targets, small before/after snapshots,
and timestamps a minute apart two rows at a time over about a year, so equal timestamps meet at
page boundaries as they do in life. It runs once: a re-run finds the rows and keeps them.

Measurements, each next to bare SQL doing the same read in the same run:

- the page (test Client, logged in as a manager; median latency and query count), first page
  and a keyset page 90% deep, against the bare SQL of that page's rows (``ORDER BY at DESC, id
  DESC LIMIT 51``, with ``(at, id) < (...)`` for the deep one; the bare view's latency, the
  floor of any page, is in the notes);
- the selector ``audit_page`` alone, first and deep page, and a deep page under an action
  filter, against the same bare SQL; the deep row also notes what ``OFFSET`` would cost, which
  is what keyset paging avoids.
"""

from __future__ import annotations

import datetime as dt

from django.db import connection

from apps.accounts.models import User
from apps.core.audit import PAGE_SIZE, AuditCursor, AuditFilters, audit_page
from apps.core.models import AuditEvent
from tests.bench.measure import _page, _url, median_seconds, result_row, skipped

AUDIT_ROWS_AT_SCALE_1 = 1_000_000
DEEP_SHARE = 0.9
FILTER_ACTION = "points.adjust"
ACTIONS = [
    "customer.update",
    "points.adjust",
    "consent.grant",
    "consent.withdraw",
    "customer.tag_add",
    "reward.redeem",
    "interaction.create",
    "export.customers",
]

SEED_SQL = """
INSERT INTO core_auditevent
    (actor_id, actor_label, action, at, target_type, target_id, summary, before, after)
SELECT
    CASE WHEN g %% 10 = 0 THEN NULL ELSE (%(actors)s::bigint[])[1 + g %% %(n_actors)s] END,
    CASE WHEN g %% 10 = 0 THEN 'system' ELSE 'bench staff' END,
    (%(actions)s::text[])[1 + (g * 7) %% %(n_actions)s],
    %(start)s::timestamptz + (g / 2) * interval '1 minute',
    'customers.customer',
    c.ids[(1 + (g::bigint * 7919) %% cardinality(c.ids))::int]::text,
    'bench ' || g,
    jsonb_build_object('balance', g %% 5000, 'tier', 'silver'),
    jsonb_build_object('balance', g %% 5000 + 50, 'tier', CASE WHEN g %% 3 = 0 THEN 'gold'
                                                            ELSE 'silver' END)
FROM generate_series(1, %(rows)s) AS g,
     (SELECT array_agg(id ORDER BY id) AS ids FROM customers_customer) AS c
"""

BARE_COLUMNS = (
    "e.id, e.actor_id, e.actor_label, e.action, e.at, e.target_type, e.target_id, e.summary, "
    "e.before, e.after, u.email, u.full_name"
)
BARE_FIRST = (
    f"SELECT {BARE_COLUMNS} FROM core_auditevent e LEFT JOIN accounts_user u ON u.id = e.actor_id "
    "ORDER BY e.at DESC, e.id DESC LIMIT %s"
)
BARE_DEEP = (
    f"SELECT {BARE_COLUMNS} FROM core_auditevent e LEFT JOIN accounts_user u ON u.id = e.actor_id "
    "WHERE (e.at, e.id) < (%s, %s) ORDER BY e.at DESC, e.id DESC LIMIT %s"
)
BARE_DEEP_ACTION = (
    f"SELECT {BARE_COLUMNS} FROM core_auditevent e LEFT JOIN accounts_user u ON u.id = e.actor_id "
    "WHERE e.action = %s AND (e.at, e.id) < (%s, %s) ORDER BY e.at DESC, e.id DESC LIMIT %s"
)
BARE_OFFSET = (
    f"SELECT {BARE_COLUMNS} FROM core_auditevent e LEFT JOIN accounts_user u ON u.id = e.actor_id "
    "ORDER BY e.at DESC, e.id DESC LIMIT %s OFFSET %s"
)


def _rows_for(scale: float) -> int:
    return max(2_000, round(AUDIT_ROWS_AT_SCALE_1 * scale))


def _bench_staff() -> list[int]:
    ids = []
    for i in range(5):
        user, _created = User.objects.get_or_create(
            email=f"bench-audit-{i}@example.com",
            defaults={"is_staff": True, "full_name": f"Bench Auditor {i}"},
        )
        ids.append(user.pk)
    return ids


def seed_audit(*, scale: float) -> dict:
    """The audit rows for ``scale``, written once (set-based); returns what is there."""
    rows = _rows_for(scale)
    existing = AuditEvent.objects.count()
    if existing >= rows:
        return {"audit_rows": existing, "seeded": 0}
    actors = _bench_staff()
    start = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(minutes=rows // 2 + 60)
    with connection.cursor() as cursor:
        cursor.execute(
            SEED_SQL,
            {
                "actors": actors,
                "n_actors": len(actors),
                "actions": ACTIONS,
                "n_actions": len(ACTIONS),
                "start": start,
                "rows": rows - existing,
            },
        )
        cursor.execute("ANALYZE core_auditevent")
    return {"audit_rows": AuditEvent.objects.count(), "seeded": rows - existing}


def _bare(sql: str, params: list) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return len(cursor.fetchall())


def _deep_cursor(filters: AuditFilters) -> tuple[AuditCursor, int]:
    """The (at, id) of the row ``DEEP_SHARE`` of the way down the filtered list (set-up only:
    this one OFFSET read is not timed) and its depth."""
    qs = AuditEvent.objects.order_by("-at", "-id")
    if filters.action:
        qs = qs.filter(action=filters.action)
    depth = int(qs.count() * DEEP_SHARE)
    at, pk = qs.values_list("at", "id")[depth]
    return AuditCursor(at=at, id=pk), depth


def measure_audit(client, runs: int, *, scale: float) -> list[dict]:
    url = _url("dashboard:audit-list")
    if url is None:
        return [skipped("audit trail", "dashboard:audit-list does not exist yet")]
    seeded = seed_audit(scale=scale)
    total = seeded["audit_rows"]
    size = PAGE_SIZE
    everything = AuditFilters()
    by_action = AuditFilters(action=FILTER_ACTION)
    deep, depth = _deep_cursor(everything)
    deep_action, depth_action = _deep_cursor(by_action)
    noop_ms, _noop_queries, _status = _page(client, "/bench/noop/", runs)

    def bare_first():
        return _bare(BARE_FIRST, [size + 1])

    def bare_deep():
        return _bare(BARE_DEEP, [deep.at, deep.id, size + 1])

    def bare_deep_action():
        return _bare(BARE_DEEP_ACTION, [FILTER_ACTION, deep_action.at, deep_action.id, size + 1])

    rows = []
    pages = [
        ("first page", "", bare_first),
        (f"keyset page at row {depth:,}", f"?older={deep.encode()}", bare_deep),
    ]
    for label, query, bare in pages:
        ms, queries, status = _page(client, url + query, runs)
        if status != 200:
            rows.append(skipped(f"audit page, {label}", f"GET {url} answered {status}"))
            continue
        rows.append(
            result_row(
                f"audit page, {label} ({total:,} rows)",
                value=ms,
                unit="ms",
                reference=median_seconds(bare, runs) * 1000,
                reference_label="bare SQL of the page's rows",
                queries=queries,
                reference_queries=1,
                detail=f"bare view {noop_ms:.1f} ms",
            )
        )

    selectors = [
        ("first page", lambda: audit_page(filters=everything, size=size), bare_first, ""),
        (
            f"page at row {depth:,}",
            lambda: audit_page(filters=everything, older_than=deep.encode(), size=size),
            bare_deep,
            "offset",
        ),
        (
            f"action filter, page at row {depth_action:,}",
            lambda: audit_page(filters=by_action, older_than=deep_action.encode(), size=size),
            bare_deep_action,
            "",
        ),
    ]
    for label, app, bare, note in selectors:
        detail = ""
        if note == "offset":
            offset_ms = median_seconds(lambda: _bare(BARE_OFFSET, [size, depth]), 3) * 1000
            detail = f"the same page by OFFSET: {offset_ms:,.1f} ms"
        rows.append(
            result_row(
                f"audit_page selector, {label}",
                value=median_seconds(lambda app=app: len(app().events), runs) * 1000,
                unit="ms",
                reference=median_seconds(bare, runs) * 1000,
                reference_label="bare SQL, (at, id) keyset",
                detail=detail,
            )
        )
    return rows
