"""Complaint reports (``/staff/tickets/reports/``): every table as (title, header, rows) in the
reader's language, the same rows the page shows and the CSV/XLSX exports write.

Period: tickets filed from ``since`` to ``until`` (local dates, inclusive). Definitions:
- A clock is *met* when it ended in time: first response given without a breach; resolved
  without a resolution breach. The share is of the clocks that ended (met or breached), so a
  ticket still running counts in neither.
- Times are business hours of each ticket's policy calendar, measured when the clock stopped
  (``first_response_minutes``, ``resolution_minutes``: waiting on the customer is left out).
- Root causes are the top level of the category tree (a category's root is its parent, or
  itself).
- Complaint rate: tickets about an order per 1,000 orders placed in the period, by store; and
  all tickets per 1,000 orders, by root cause.
- Compensation cost: issued compensation's worth in ¥ (points at the programme's point value
  when issued), per complaint and per compensated customer.
"""

from __future__ import annotations

import datetime as dt
import statistics
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Avg, Count, F, Q, Sum
from django.db.models.functions import Coalesce, TruncMonth
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from apps.customers.models import Order, Store

from .enums import ACTIVE_STATUSES, DONE_STATUSES, CompensationStatus, Priority, TicketStatus
from .models import Category, Compensation, Team, Ticket

DIMENSIONS = {
    "team": gettext_lazy("Team"),
    "root": gettext_lazy("Root cause"),
    "priority": gettext_lazy("Priority"),
    "month": gettext_lazy("Month"),
}
AGE_BUCKETS = [
    (1, gettext_lazy("under 1 day")),
    (3, gettext_lazy("1–3 days")),
    (7, gettext_lazy("3–7 days")),
    (30, gettext_lazy("7–30 days")),
    (None, gettext_lazy("over 30 days")),
]


@dataclass(frozen=True)
class Table:
    key: str
    title: str
    header: list[str]
    rows: list[list]


def _tickets(since: dt.date, until: dt.date):
    tz = timezone.get_current_timezone()
    start = dt.datetime.combine(since, dt.time.min, tzinfo=tz)
    end = dt.datetime.combine(until + dt.timedelta(days=1), dt.time.min, tzinfo=tz)
    return Ticket.objects.filter(created_at__gte=start, created_at__lt=end), (start, end)


def _pct(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def _root_names() -> dict[int, str]:
    return {c.pk: str(c.name) for c in Category.objects.filter(parent__isnull=True)}


def _group_key(dimension: str):
    return {
        "team": F("team_id"),
        "root": Coalesce("category__parent_id", "category_id"),
        "priority": F("priority"),
        "month": TruncMonth("created_at"),
    }[dimension]


def _labels(dimension: str):
    if dimension == "team":
        names = {t.pk: str(t.name) for t in Team.objects.all()}
        return lambda k: names.get(k, _("No team"))
    if dimension == "root":
        names = _root_names()
        return lambda k: names.get(k, "—")
    if dimension == "priority":
        return lambda k: str(Priority(k).label)
    return lambda k: timezone.localtime(k).strftime("%Y-%m") if k else "—"


def sla_compliance(*, since: dt.date, until: dt.date, by: str) -> Table:
    qs, _range = _tickets(since, until)
    fr_breached = Q(first_response_breached_at__isnull=False)
    fr_met = Q(first_responded_at__isnull=False) & ~fr_breached
    res_breached = Q(resolution_breached_at__isnull=False)
    res_met = Q(status__in=DONE_STATUSES) & ~res_breached
    rows = (
        qs.annotate(key=_group_key(by))
        .values("key")
        .annotate(
            n=Count("pk"),
            fr_met=Count("pk", filter=fr_met),
            fr_ended=Count("pk", filter=fr_met | fr_breached),
            res_met=Count("pk", filter=res_met),
            res_ended=Count("pk", filter=res_met | res_breached),
            breached=Count("pk", filter=fr_breached | res_breached),
        )
        .order_by("key")
    )
    label = _labels(by)
    out = [
        [
            label(r["key"]),
            r["n"],
            _pct(r["fr_met"], r["fr_ended"]),
            _pct(r["res_met"], r["res_ended"]),
            r["breached"],
        ]
        for r in rows
    ]
    if by != "month":
        out.sort(key=lambda row: str(row[0]))
    return Table(
        key=f"sla-{by}",
        title=_("SLA compliance by %(dimension)s") % {"dimension": str(DIMENSIONS[by]).lower()},
        header=[
            str(DIMENSIONS[by]),
            _("Tickets"),
            _("First response met (%)"),
            _("Resolution met (%)"),
            _("Breached"),
        ],
        rows=out,
    )


def backlog(*, now: dt.datetime | None = None) -> Table:
    """Open tickets (whatever their filing date) by status and age."""
    now = now or timezone.now()
    aggregates = {}
    lower = 0
    for i, (upper, _label) in enumerate(AGE_BUCKETS):
        condition = Q(created_at__lte=now - dt.timedelta(days=lower))
        if upper is not None:
            condition &= Q(created_at__gt=now - dt.timedelta(days=upper))
        aggregates[f"b{i}"] = Count("pk", filter=condition)
        lower = upper or lower
    rows = (
        Ticket.objects.filter(status__in=ACTIVE_STATUSES)
        .values("status")
        .annotate(n=Count("pk"), **aggregates)
        .order_by("status")
    )
    return Table(
        key="backlog",
        title=_("Backlog and age"),
        header=[_("Status"), _("Open tickets"), *[str(label) for _u, label in AGE_BUCKETS]],
        rows=[
            [
                str(TicketStatus(r["status"]).label),
                r["n"],
                *[r[f"b{i}"] for i in range(len(AGE_BUCKETS))],
            ]
            for r in rows
        ],
    )


def _median_p90(values: list[int]) -> tuple[float | None, float | None]:
    if not values:
        return None, None
    hours = sorted(v / 60 for v in values)
    median = statistics.median(hours)
    p90 = statistics.quantiles(hours, n=10, method="inclusive")[-1] if len(hours) > 1 else hours[0]
    return round(median, 1), round(p90, 1)


def response_times(*, since: dt.date, until: dt.date) -> Table:
    """Median and 90th percentile, in business hours, by priority."""
    qs, _range = _tickets(since, until)
    rows = []
    for value, label in [(None, _("All")), *Priority.choices]:
        part = qs if value is None else qs.filter(priority=value)
        first = list(
            part.filter(first_response_minutes__isnull=False).values_list(
                "first_response_minutes", flat=True
            )
        )
        resolution = list(
            part.filter(resolution_minutes__isnull=False).values_list(
                "resolution_minutes", flat=True
            )
        )
        rows.append(
            [str(label), len(first), *_median_p90(first), len(resolution), *_median_p90(resolution)]
        )
    return Table(
        key="times",
        title=_("Time to first response and to resolution (business hours)"),
        header=[
            _("Priority"),
            _("Answered"),
            _("First response, median (h)"),
            _("First response, p90 (h)"),
            _("Resolved"),
            _("Resolution, median (h)"),
            _("Resolution, p90 (h)"),
        ],
        rows=rows,
    )


def complaint_rate(*, since: dt.date, until: dt.date) -> Table:
    qs, (start, end) = _tickets(since, until)
    orders = dict(
        Order.objects.filter(placed_at__gte=start, placed_at__lt=end)
        .values("store_id")
        .annotate(n=Count("pk"))
        .values_list("store_id", "n")
    )
    tickets = dict(
        qs.filter(order__isnull=False)
        .values("order__store_id")
        .annotate(n=Count("pk"))
        .values_list("order__store_id", "n")
    )
    # Store names in the reader's language (``values()`` would read the stored column only).
    stores = Store.objects.in_bulk(list(orders))
    rows = [
        [str(stores[pk].name), tickets.get(pk, 0), n, round(1000 * tickets.get(pk, 0) / n, 2)]
        for pk, n in orders.items()
        if n
    ]
    rows.sort(key=lambda row: row[0])
    return Table(
        key="rate-store",
        title=_("Complaint rate per 1,000 orders, by store"),
        header=[_("Store"), _("Complaints about an order"), _("Orders"), _("Per 1,000 orders")],
        rows=rows,
    )


def root_causes(*, since: dt.date, until: dt.date) -> Table:
    qs, (start, end) = _tickets(since, until)
    total_orders = Order.objects.filter(placed_at__gte=start, placed_at__lt=end).count()
    names = {c.pk: (c.parent_id, str(c.name)) for c in Category.objects.all()}
    counts = dict(qs.values("category_id").annotate(n=Count("pk")).values_list("category_id", "n"))
    by_root: dict[int, list] = {}
    for category_id, n in counts.items():
        parent_id, name = names[category_id]
        root_id = parent_id or category_id
        entry = by_root.setdefault(root_id, [names[root_id][1], 0, []])
        entry[1] += n
        if parent_id:
            entry[2].append((name, n))
    grand = sum(counts.values())
    rows = []
    for root_name, n, children in sorted(by_root.values(), key=lambda e: -e[1]):
        rate = round(1000 * n / total_orders, 2) if total_orders else None
        rows.append([root_name, "", n, _pct(n, grand), rate])
        rows.extend(
            [root_name, child, m, _pct(m, grand), None]
            for child, m in sorted(children, key=lambda c: -c[1])
        )
    return Table(
        key="root-causes",
        title=_("Root causes"),
        header=[
            _("Root cause"),
            _("Category"),
            _("Tickets"),
            _("Share (%)"),
            _("Per 1,000 orders"),
        ],
        rows=rows,
    )


def csat(*, since: dt.date, until: dt.date) -> Table:
    qs, _range = _tickets(since, until)
    rated = qs.filter(satisfaction__isnull=False)
    rows = (
        rated.annotate(key=_group_key("team"))
        .values("key")
        .annotate(
            n=Count("pk"), good=Count("pk", filter=Q(satisfaction__gte=4)), avg=Avg("satisfaction")
        )
        .order_by("key")
    )
    label = _labels("team")
    overall = rated.aggregate(
        n=Count("pk"), good=Count("pk", filter=Q(satisfaction__gte=4)), avg=Avg("satisfaction")
    )
    resolved = qs.filter(status__in=DONE_STATUSES).count()
    out = [[label(r["key"]), r["n"], _pct(r["good"], r["n"]), round(r["avg"], 2)] for r in rows]
    out.append(
        [
            _("All teams"),
            overall["n"],
            _pct(overall["good"], overall["n"]),
            round(overall["avg"], 2) if overall["avg"] else None,
        ]
    )
    return Table(
        key="csat",
        title=_(
            "Satisfaction with the resolution (CSAT) — %(rated)s of %(resolved)s resolved rated"
        )
        % {"rated": overall["n"], "resolved": resolved},
        header=[_("Team"), _("Ratings"), _("Satisfied, 4–5 (%)"), _("Average (1–5)")],
        rows=out,
    )


def compensation_cost(*, since: dt.date, until: dt.date) -> Table:
    qs, _range = _tickets(since, until)
    tickets_by_root = dict(
        qs.annotate(key=_group_key("root"))
        .values("key")
        .annotate(n=Count("pk"))
        .values_list("key", "n")
    )
    issued = Compensation.objects.filter(ticket__in=qs, status=CompensationStatus.ISSUED)
    rows = (
        issued.annotate(key=Coalesce("ticket__category__parent_id", "ticket__category_id"))
        .values("key")
        .annotate(
            n=Count("pk"), total=Sum("value"), customers=Count("ticket__customer", distinct=True)
        )
        .order_by("-total")
    )
    names = _root_names()
    out = []
    for r in rows:
        total = r["total"] or Decimal(0)
        out.append(
            [
                names.get(r["key"], "—"),
                r["n"],
                total,
                (total / tickets_by_root.get(r["key"], 1)).quantize(Decimal("0.01")),
                (total / r["customers"]).quantize(Decimal("0.01")) if r["customers"] else None,
            ]
        )
    all_total = issued.aggregate(t=Sum("value"))["t"] or Decimal(0)
    customers = issued.values("ticket__customer").distinct().count()
    complaints = sum(tickets_by_root.values())
    out.append(
        [
            _("All"),
            issued.count(),
            all_total,
            (all_total / complaints).quantize(Decimal("0.01")) if complaints else None,
            (all_total / customers).quantize(Decimal("0.01")) if customers else None,
        ]
    )
    return Table(
        key="compensation",
        title=_("Compensation cost"),
        header=[
            _("Root cause"),
            _("Issued"),
            _("Cost (¥)"),
            _("Per complaint (¥)"),
            _("Per compensated customer (¥)"),
        ],
        rows=out,
    )


def report_tables(*, since: dt.date, until: dt.date, by: str = "team") -> list[Table]:
    return [
        sla_compliance(since=since, until=until, by=by),
        backlog(),
        response_times(since=since, until=until),
        root_causes(since=since, until=until),
        complaint_rate(since=since, until=until),
        csat(since=since, until=until),
        compensation_cost(since=since, until=until),
    ]


def report_table(key: str, *, since: dt.date, until: dt.date) -> Table | None:
    """One table by its key (``sla-team``, ``backlog``, …), or None for an unknown key."""
    if key.startswith("sla-"):
        by = key.removeprefix("sla-")
        return sla_compliance(since=since, until=until, by=by) if by in DIMENSIONS else None
    if key == "backlog":
        return backlog()
    builders = {
        "times": response_times,
        "root-causes": root_causes,
        "rate-store": complaint_rate,
        "csat": csat,
        "compensation": compensation_cost,
    }
    build = builders.get(key)
    return build(since=since, until=until) if build else None
