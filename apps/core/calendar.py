"""Business time: the one place that does calendar arithmetic (SLA clocks and anything else).

``add_business_minutes(calendar, start, minutes)`` and ``business_minutes_between(calendar,
start, end)`` take aware datetimes and a ``BusinessCalendar`` (or its compiled ``Schedule``) and
return UTC datetimes. Decisions:

- Opening hours are wall-clock times in the calendar's zone, half-open intervals. A start
  outside them counts from the next opening; a deadline that lands exactly on a closing time is
  that closing time (not the next opening). Zero minutes from a closed moment is the next
  opening.
- Make-up working days (调休) open with Monday's hours; holidays are closed all day, whatever
  the weekday.
- Across a DST change the minutes counted are real elapsed minutes. A wall time that does not
  exist (the spring-forward gap) moves forward by the gap, as ``zoneinfo`` resolves it; a wall
  time that happens twice (fall back) is its first occurrence.
- ``business_minutes_between`` floors to whole minutes (seconds of a partial minute are not
  business minutes yet); an end before the start is 0.
- A calendar that never opens again within 100 years is an error, not an endless loop.

The arithmetic walks day by day over each day's few intervals (no minute loops), and whole weeks
at a time when no holiday or make-up day falls in them, so a month of business time costs a few
dozen steps. Compiled schedules are cached per calendar row version.
"""

from __future__ import annotations

import datetime as dt
import functools
import zoneinfo
from dataclasses import dataclass, field

from django.utils.translation import gettext as _

from .calendar_rules import DAYS
from .exceptions import ValidationFailed

UTC = dt.UTC
HORIZON_DAYS = 366 * 100
_ONE_DAY = dt.timedelta(days=1)


def _minutes(text: str) -> int:
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


@dataclass(eq=False)
class Schedule:
    """A calendar compiled for arithmetic: per weekday (0 = Monday) the opening intervals in
    minutes after midnight; the holiday and make-up day sets; and a cache of each day's
    intervals as UTC instants."""

    tz: zoneinfo.ZoneInfo
    weekly: tuple[tuple[tuple[int, int], ...], ...]
    holidays: frozenset[dt.date]
    workdays: frozenset[dt.date]
    _days: dict[dt.date, tuple[tuple[dt.datetime, dt.datetime], ...]] = field(
        default_factory=dict, repr=False
    )

    @classmethod
    def from_parts(cls, *, timezone: str, hours: dict, holidays=(), workdays=()) -> Schedule:
        weekly = tuple(
            tuple(sorted((_minutes(a), _minutes(b)) for a, b in hours.get(day, []))) for day in DAYS
        )
        return cls(
            tz=zoneinfo.ZoneInfo(timezone),
            weekly=weekly,
            holidays=frozenset(dt.date.fromisoformat(d) for d in holidays),
            workdays=frozenset(dt.date.fromisoformat(d) for d in workdays),
        )

    def spans(self, day: dt.date) -> tuple[tuple[int, int], ...]:
        if day in self.holidays:
            return ()
        if day in self.workdays:
            return self.weekly[0]
        return self.weekly[day.weekday()]

    def _instant(self, day: dt.date, minute: int) -> dt.datetime:
        if minute >= 1440:
            day, minute = day + _ONE_DAY, minute - 1440
        local = dt.datetime(day.year, day.month, day.day, minute // 60, minute % 60, tzinfo=self.tz)
        return local.astimezone(UTC)

    def intervals(self, day: dt.date) -> tuple[tuple[dt.datetime, dt.datetime], ...]:
        """The day's opening intervals as UTC instants (cached)."""
        cached = self._days.get(day)
        if cached is None:
            cached = tuple(
                (self._instant(day, a), self._instant(day, b)) for a, b in self.spans(day)
            )
            if len(self._days) > 4096:
                self._days.clear()
            self._days[day] = cached
        return cached

    @functools.cached_property
    def week_minutes(self) -> int:
        return sum(b - a for spans in self.weekly for a, b in spans)

    def plain_week(self, first: dt.date) -> bool:
        """The seven days from ``first`` are an ordinary week: no holiday, no make-up day and
        no change of UTC offset (so their business time is exactly ``week_minutes``)."""
        last = first + dt.timedelta(days=6)
        if any(first <= d <= last for d in self.special):
            return False
        return self._offset(first) == self._offset(last + _ONE_DAY)

    def _offset(self, day: dt.date) -> dt.timedelta | None:
        return dt.datetime(day.year, day.month, day.day, tzinfo=self.tz).utcoffset()

    @functools.cached_property
    def special(self) -> frozenset[dt.date]:
        return self.holidays | self.workdays

    def opens_after(self, day: dt.date) -> bool:
        """Whether any day from ``day`` on can be open (a quick refusal for empty calendars)."""
        if self.week_minutes:
            return True
        return bool(self.weekly[0]) and any(d >= day for d in self.workdays - self.holidays)


_cache: dict[tuple[int, object], Schedule] = {}


def schedule_of(calendar) -> Schedule:
    """The compiled schedule of a ``BusinessCalendar`` (cached per row and version), or the
    schedule itself."""
    if isinstance(calendar, Schedule):
        return calendar
    key = (calendar.pk, calendar.updated_at)
    schedule = _cache.get(key)
    if schedule is None:
        schedule = Schedule.from_parts(
            timezone=calendar.timezone,
            hours=calendar.hours,
            holidays=calendar.holidays,
            workdays=calendar.workdays,
        )
        if calendar.pk is not None:
            if len(_cache) > 256:
                _cache.clear()
            _cache[key] = schedule
    return schedule


def _aware(value: dt.datetime, name: str) -> dt.datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime")
    return value.astimezone(UTC)


def _never_opens() -> ValidationFailed:
    return ValidationFailed(_("This calendar has no opening hours in the next 100 years."))


def add_business_minutes(calendar, start: dt.datetime, minutes: int) -> dt.datetime:
    """The moment ``minutes`` business minutes after ``start`` (see the module's decisions)."""
    if minutes < 0:
        raise ValueError("minutes must not be negative")
    schedule = schedule_of(calendar)
    at = _aware(start, "start")
    remaining = dt.timedelta(minutes=minutes)
    first = at.astimezone(schedule.tz).date()
    if not schedule.opens_after(first):
        raise _never_opens()
    day = first - _ONE_DAY  # defensive: a day's last interval may end at its midnight
    week = dt.timedelta(minutes=schedule.week_minutes)
    end = day + dt.timedelta(days=HORIZON_DAYS)
    while day <= end:
        # Whole ordinary weeks at once, once past the start's own day.
        if week and remaining > week and day > first and schedule.plain_week(day):
            remaining -= week
            day += dt.timedelta(days=7)
            continue
        for open_at, close_at in schedule.intervals(day):
            if close_at <= at:
                continue
            begin = max(open_at, at)
            available = close_at - begin
            if remaining <= available:
                return begin + remaining
            remaining -= available
        day += _ONE_DAY
    raise _never_opens()


def business_minutes_between(calendar, start: dt.datetime, end: dt.datetime) -> int:
    """Whole business minutes in [start, end) (floored; 0 when end is not after start)."""
    schedule = schedule_of(calendar)
    start, end = _aware(start, "start"), _aware(end, "end")
    if end <= start:
        return 0
    total = dt.timedelta()
    first = start.astimezone(schedule.tz).date()
    day = first - _ONE_DAY
    last = end.astimezone(schedule.tz).date()
    week = dt.timedelta(minutes=schedule.week_minutes)
    while day <= last:
        if week and day > first and day + dt.timedelta(days=7) < last and schedule.plain_week(day):
            total += week
            day += dt.timedelta(days=7)
            continue
        for open_at, close_at in schedule.intervals(day):
            begin, finish = max(open_at, start), min(close_at, end)
            if finish > begin:
                total += finish - begin
        day += _ONE_DAY
    return int(total.total_seconds() // 60)


def is_open(calendar, at: dt.datetime) -> bool:
    schedule = schedule_of(calendar)
    at = _aware(at, "at")
    local = at.astimezone(schedule.tz).date()
    return any(
        open_at <= at < close_at
        for day in (local - _ONE_DAY, local)
        for open_at, close_at in schedule.intervals(day)
    )


def next_opening(calendar, at: dt.datetime) -> dt.datetime:
    """``at`` when open, else the start of the next opening interval."""
    return add_business_minutes(calendar, at, 0)
