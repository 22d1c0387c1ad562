"""Helpers every app's Celery jobs share: a lock so two runs of a job never overlap, and the
ISO date-or-datetime argument scheduled jobs take.

The lock is a cache key (``cache.add`` is atomic on Redis and on the database cache) with a
timeout, so a crashed worker cannot block the next run; it is released in ``finally``."""

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager

from django.core.cache import cache
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

LOCK_TIMEOUT = 60 * 60 * 3  # longer than any nightly run; released in ``finally`` anyway


@contextmanager
def job_lock(name: str, timeout: int = LOCK_TIMEOUT) -> Iterator[bool]:
    """True when this run holds the lock ``lock:<name>``; False when another run holds it.
    Name it ``<app>:<job>`` so apps never share a lock by accident."""
    key = f"lock:{name}"
    acquired = cache.add(key, 1, timeout)
    try:
        yield acquired
    finally:
        if acquired:
            cache.delete(key)


def moment_parse(value: str | None) -> dt.datetime:
    """An ISO datetime, or an ISO date meaning the start of that local day; default now."""
    if not value:
        return timezone.now()
    moment = parse_datetime(value)
    if moment is None:
        day = parse_date(value)
        if day is None:
            raise ValueError(f"not an ISO date or datetime: {value!r}")
        moment = dt.datetime.combine(day, dt.time.min)
    return timezone.make_aware(moment) if timezone.is_naive(moment) else moment
