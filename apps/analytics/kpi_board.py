"""What the KPI dashboard shows: each KPI as of a day, against the window before and the same day
a year earlier, with its trend.

The standard window (30 days) for the programme, a store or a tier reads the daily snapshots:
one query for the trend (the last 90 days) and the comparisons, and a live computation only for a
point whose snapshot is missing (yesterday before the nightly job ran, a year ago before the
programme kept snapshots). Any other window, and a segment, is computed live: the day, the
window before, a year earlier and four earlier windows for the trend.
"""

import datetime as dt
from dataclasses import dataclass, field

from django.db.models import Q

from apps.core.replica import reporting

from .kpis import (
    BY_KEY,
    DEFAULT_WINDOW,
    DEFINITIONS,
    EVERYONE,
    KPI,
    Scope,
    Values,
    Window,
    kpi_values,
)
from .models import KPISnapshot

TREND_DAYS = 90
LIVE_POINTS = 6
YEAR = 365


@dataclass
class Card:
    kpi: KPI
    value: float | int | None
    previous: float | int | None
    last_year: float | int | None
    trend: list[float | int | None] = field(default_factory=list)

    def change(self, then) -> dict | None:
        """The change against ``then``: in points for a percentage or score, else in per cent;
        ``good`` when it goes the way the KPI should (None when the KPI has no better way)."""
        if self.value is None or then is None:
            return None
        if self.kpi.unit in ("percent", "score"):
            delta, relative = round(self.value - then, 2), False
        elif then:
            delta, relative = round((self.value - then) * 100 / abs(then), 1), True
        else:
            return None
        good = None if self.kpi.better == 0 or delta == 0 else (delta > 0) == (self.kpi.better > 0)
        return {"delta": delta, "relative": relative, "good": good}

    @property
    def vs_previous(self) -> dict | None:
        return self.change(self.previous)

    @property
    def vs_last_year(self) -> dict | None:
        return self.change(self.last_year)


@dataclass
class Board:
    day: dt.date
    window: int
    scope: Scope
    live: bool
    trend_days: list[dt.date]
    cards: list[Card]

    def groups(self) -> list[tuple[str, list[Card]]]:
        out: dict[str, list[Card]] = {}
        for card in self.cards:
            out.setdefault(str(card.kpi.group), []).append(card)
        return list(out.items())

    def series(self) -> list[tuple[dt.date, Values]]:
        """The trend as rows (day, values) for an export."""
        return [
            (day, {card.kpi.key: card.trend[i] for card in self.cards})
            for i, day in enumerate(self.trend_days)
        ]


def _snapshots(scope: Scope, days: set[dt.date], first: dt.date, last: dt.date) -> dict:
    rows = KPISnapshot.objects.filter(scope=scope.key, window_days=DEFAULT_WINDOW).filter(
        day__gte=first, day__lte=last
    ) | KPISnapshot.objects.filter(scope=scope.key, window_days=DEFAULT_WINDOW, day__in=days)
    return dict(rows.values_list("day", "values"))


# A report: read from the replica when there is one (apps.core.replica).
@reporting()
def kpi_board(*, day: dt.date, window: int = DEFAULT_WINDOW, scope: Scope = EVERYONE) -> Board:
    now = Window(day, window)
    previous, last_year = now.before(), now.before(YEAR)
    stored: dict[dt.date, Values] = {}
    if window == DEFAULT_WINDOW and not scope.segment_id:
        first = day - dt.timedelta(days=TREND_DAYS - 1)
        stored = _snapshots(scope, {previous.day, last_year.day}, first, day)
    live = day not in stored
    if live:
        trend_days = [day - dt.timedelta(days=window * k) for k in range(LIVE_POINTS - 1, -1, -1)]
    else:
        trend_days = [day - dt.timedelta(days=k) for k in range(TREND_DAYS - 1, -1, -1)]

    computed: dict[dt.date, Values] = {}

    def at(when: dt.date, *, compute: bool = True) -> Values | None:
        if when in stored:
            return stored[when]
        if not compute:
            return None
        if when not in computed:
            computed[when] = kpi_values(window=Window(when, window), scope=scope)
        return computed[when]

    points = {d: at(d, compute=live) for d in trend_days}
    current, before, year_ago = at(day), at(previous.day), at(last_year.day)
    cards = []
    for kpi in DEFINITIONS:
        if not kpi.scoped and not scope.is_all:
            continue
        cards.append(
            Card(
                kpi=kpi,
                value=current.get(kpi.key),
                previous=before.get(kpi.key),
                last_year=year_ago.get(kpi.key),
                trend=[(points[d] or {}).get(kpi.key) for d in trend_days],
            )
        )
    return Board(day=day, window=window, scope=scope, live=live, trend_days=trend_days, cards=cards)


HEADLINE_LAG_DAYS = 7  # the home page reads a snapshot at most this many days old


def kpi_headline(*, day: dt.date, keys: tuple[str, ...]) -> Board | None:
    """A few KPIs for the programme as the latest daily snapshot up to ``day`` has them, each
    against the window before (no trend): one query, never a live computation, so a home page
    stays cheap. None when no snapshot was taken in the last ``HEADLINE_LAG_DAYS`` days (the KPI
    page computes live then)."""
    back = dt.timedelta(days=DEFAULT_WINDOW)
    lag = dt.timedelta(days=HEADLINE_LAG_DAYS)
    rows = KPISnapshot.objects.filter(scope=EVERYONE.key, window_days=DEFAULT_WINDOW).filter(
        Q(day__gt=day - lag, day__lte=day) | Q(day__gt=day - lag - back, day__lte=day - back)
    )
    stored: dict[dt.date, Values] = dict(rows.values_list("day", "values"))
    recent = [d for d in stored if d > day - lag]
    if not recent:
        return None
    latest = max(recent)
    current, before = stored[latest], stored.get(latest - back) or {}
    cards = [
        Card(
            kpi=BY_KEY[key],
            value=current.get(key),
            previous=before.get(key),
            last_year=None,
        )
        for key in keys
    ]
    return Board(
        day=latest,
        window=DEFAULT_WINDOW,
        scope=EVERYONE,
        live=False,
        trend_days=[],
        cards=cards,
    )
