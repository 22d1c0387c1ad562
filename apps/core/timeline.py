"""The customer timeline merges events from every app. Each app registers a source of its kind
in its ``AppConfig.ready``: the customer's rows (a queryset), the field holding a row's time,
and how rows become events. The timeline owns the windowing: which rows fall on a page.

A page is found in two steps, whatever the history: one query (a ``UNION ALL`` of every source,
each an index scan of ``limit + 1`` row times) finds the instant the page stops at and which
kinds have rows on it; then only those kinds read their rows, and only the rows on the page. A
row's events are never older than the row's own time (a complaint is resolved after it is
filed, a survey answered after the invitation), so a page holds every event of its rows; the
events that fall at or after ``before`` itself belonged to the newer page and are dropped.
"""

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import connection
from django.db.models import F, IntegerField, QuerySet, Value

from .db import stand_ins_replaced
from .events import wiring_only


@dataclass(frozen=True)
class TimelineEvent:
    at: dt.datetime
    kind: str  # "order", "interaction", "consent", "points", "ticket", ...
    icon: str  # a Bootstrap icon-ish short name used by the template
    title: str
    detail: str = ""
    url: str = ""
    extra: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Source:
    """One kind of event. ``rows(customer=)``: the customer's rows of the kind (filtered, not
    ordered or sliced); ``key``: the rows' time field (every event of a row is at or after
    it); ``events(rows, customer=)``: the events of rows already windowed and ordered (reading
    what they show along, with a fixed number of queries)."""

    name: str
    rows: Callable[..., QuerySet]
    key: str
    events: Callable[..., list[TimelineEvent]]


_sources: list[Source] = []


def register(
    name: str, *, rows: Callable[..., QuerySet], key: str, events: Callable[..., list]
) -> None:
    """Add a source (in ``AppConfig.ready()`` only; registering a name twice is a no-op)."""
    wiring_only(f"the timeline source {name}")
    if all(s.name != name for s in _sources):
        _sources.append(Source(name=name, rows=rows, key=key, events=events))
        _unions.clear()


@dataclass(frozen=True)
class TimelinePage:
    """The newest events before a point in time, newest first. ``older``: where the next page
    starts (pass it as ``before``), or None when nothing older is left."""

    events: list[TimelineEvent]
    older: dt.datetime | None


def _window(source: Source, customer, *, before, since=None) -> QuerySet:
    rows = source.rows(customer=customer)
    if before is not None:
        rows = rows.filter(**{f"{source.key}__lt": before})
    if since is not None:
        rows = rows.filter(**{f"{source.key}__gte": since})
    return rows.order_by(f"-{source.key}", "-pk")


def _parts(customer, *, before, n: int) -> list[QuerySet]:
    return [
        _window(source, customer, before=before)
        .annotate(t=F(source.key), src=Value(i, output_field=IntegerField()))
        .values_list("t", "src")[:n]
        for i, source in enumerate(_sources)
    ]


# The union's SQL, compiled once per process for each shape (a ``before`` or not, ``n``): Django
# takes longer to compile seven querysets than PostgreSQL takes to run them. It is compiled for
# stand-ins, a customer id and a time no row has, whose places in the parameters then take the
# page's own values. A source whose rows used more of the customer than its id would leave the
# stand-in's id out of its part; then the union is compiled afresh for every page, as before.
_STAND_IN_PK = -7_340_033
_STAND_IN_BEFORE = dt.datetime(1901, 2, 3, 4, 5, 6, 789_012, tzinfo=dt.UTC)
_unions: dict[tuple[bool, int], tuple[str, tuple] | None] = {}


def _union_statement(customer, *, before, n: int) -> tuple[str, list] | None:
    shape = (before is not None, n)
    if shape not in _unions:
        stand_in = type(customer)(pk=_STAND_IN_PK)
        parts = _parts(stand_in, before=_STAND_IN_BEFORE if before else None, n=n)
        union = parts[0].union(*parts[1:], all=True).order_by("-t")[:n]
        sql, params = union.query.sql_with_params()
        customer_places = sum(1 for p in params if type(p) is int and p == _STAND_IN_PK)
        _unions[shape] = (sql, tuple(params)) if customer_places >= len(parts) else None
    compiled = _unions[shape]
    if compiled is None:
        return None
    sql, params = compiled
    return sql, stand_ins_replaced(params, {_STAND_IN_PK: customer.pk, _STAND_IN_BEFORE: before})


def _stamps(customer, *, before, n: int) -> list[tuple[dt.datetime, int]]:
    """(time, source index) of the newest ``n`` rows of all sources before ``before``: one
    query where the database can order and limit each part of a union (PostgreSQL), one per
    source otherwise."""
    if not _sources:
        return []
    if connection.features.supports_slicing_ordering_in_compound:
        statement = _union_statement(customer, before=before, n=n)
        if statement is not None:
            with connection.cursor() as cursor:
                cursor.execute(*statement)
                return [(t, src) for t, src in cursor.fetchall()]
        parts = _parts(customer, before=before, n=n)
        return list(parts[0].union(*parts[1:], all=True).order_by("-t")[:n])
    parts = _parts(customer, before=before, n=n)
    return sorted((row for part in parts for row in part), key=lambda r: r[0], reverse=True)[:n]


def timeline_page(customer, *, limit: int = 25, before: dt.datetime | None = None) -> TimelinePage:
    """The events of the newest ``limit`` rows of every source before ``before``. Rows at the
    same instant stay on one page (a transaction's ledger rows share its time), so a page may
    hold a few more; the next page starts strictly before the page's last instant."""
    stamps = _stamps(customer, before=before, n=limit + 1)
    if not stamps:
        return TimelinePage([], None)
    since = stamps[min(limit, len(stamps)) - 1][0]
    events: list[TimelineEvent] = []
    for i in sorted({src for at, src in stamps if at >= since}):
        source = _sources[i]
        # At most one row more than a page of a kind: more rows at the very same instant than
        # that are not shown (a page must stay bounded).
        rows = _window(source, customer, before=before, since=since)[: limit + 1]
        events.extend(
            e for e in source.events(rows, customer=customer) if before is None or e.at < before
        )
    events.sort(key=lambda e: e.at, reverse=True)
    return TimelinePage(events, since if len(stamps) > limit else None)


def timeline_for(customer, *, limit: int = 50) -> list[TimelineEvent]:
    """The newest ``limit`` events of every source, newest first (at most ``limit``)."""
    return timeline_page(customer, limit=limit).events[:limit]
