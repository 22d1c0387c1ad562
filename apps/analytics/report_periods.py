"""When a scheduled report is due, and which period it covers, in the business time zone.

A weekly report is sent on its weekday at its hour and covers the last whole week (Monday to
Sunday) before the week it is sent in; a monthly one on its day of the month (1–28, so every month
has it) and covers the whole calendar month before. The send moment of the current cycle is the
latest one at or before ``now``; the period it covers is due until it has been sent. A run that
was missed (beat down at the hour) sends at the next run of the same cycle, never the cycle
before: only the latest period is ever due.

Pure date arithmetic (no models), so a data migration can use it too.
"""

import datetime as dt
from dataclasses import dataclass

from django.utils import timezone

WEEKLY, MONTHLY = "weekly", "monthly"


@dataclass(frozen=True)
class Period:
    frequency: str
    start: dt.date
    end: dt.date  # inclusive

    @property
    def key(self) -> str:
        """``2026-W10`` (ISO week of the Monday) or ``2026-03``: what the claim is made on."""
        if self.frequency == WEEKLY:
            year, week, _day = self.start.isocalendar()
            return f"{year}-W{week:02d}"
        return f"{self.start:%Y-%m}"

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


def _month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def _previous_month(day: dt.date) -> dt.date:
    return (_month_start(day) - dt.timedelta(days=1)).replace(day=1)


def send_moment(
    *,
    frequency: str,
    weekday: int | None,
    day_of_month: int | None,
    hour: int,
    now: dt.datetime,
) -> dt.datetime:
    """The latest scheduled moment at or before ``now`` (aware, in the business time zone)."""
    tz = timezone.get_default_timezone()  # the business time zone, whoever reads
    local = timezone.localtime(now, tz)
    today = local.date()
    if frequency == WEEKLY:
        day = today - dt.timedelta(days=(today.weekday() - weekday) % 7)
    else:
        day = today.replace(day=day_of_month)
    moment = timezone.make_aware(dt.datetime.combine(day, dt.time(hour)), tz)
    if moment > local:
        if frequency == WEEKLY:
            day -= dt.timedelta(days=7)
        else:
            day = _previous_month(today).replace(day=day_of_month)
        moment = timezone.make_aware(dt.datetime.combine(day, dt.time(hour)), tz)
    return moment


def period_covered(*, frequency: str, sent_on: dt.date) -> Period:
    """The period a report sent on ``sent_on`` covers: the last whole week or month before."""
    if frequency == WEEKLY:
        monday = sent_on - dt.timedelta(days=sent_on.weekday())
        return Period(WEEKLY, monday - dt.timedelta(days=7), monday - dt.timedelta(days=1))
    first = _previous_month(sent_on)
    return Period(MONTHLY, first, _month_start(sent_on) - dt.timedelta(days=1))


def period_current(
    *,
    frequency: str,
    weekday: int | None,
    day_of_month: int | None,
    hour: int,
    now: dt.datetime,
) -> Period:
    """The period whose send moment is the latest at or before ``now``."""
    moment = send_moment(
        frequency=frequency, weekday=weekday, day_of_month=day_of_month, hour=hour, now=now
    )
    sent_on = timezone.localtime(moment, timezone.get_default_timezone()).date()
    return period_covered(frequency=frequency, sent_on=sent_on)
