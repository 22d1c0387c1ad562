"""Helpers every app's Celery jobs share: a lock so two runs of a job never overlap, and the
ISO date-or-datetime argument scheduled jobs take.

The lock is a cache key (``cache.add`` is atomic on Redis and on the database cache) with a
timeout, so a crashed worker cannot block the next run; it is released in ``finally``.

On PostgreSQL the key also names the database session that holds it, and the run holds a
session advisory lock of the same name. A worker killed mid-job (SIGKILL, lost machine) never
reaches ``finally``; its job comes back to another worker (acks_late) which, without this,
would find the key taken and skip, leaving the job undone until its next scheduled run. The
advisory lock went with the dead session, so the redelivered run takes it, sees that the key's
holder is gone and takes the key over."""

import datetime as dt
import hashlib
from collections.abc import Iterator
from contextlib import contextmanager

from django.core.cache import cache
from django.db import DatabaseError, connection
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

LOCK_TIMEOUT = 60 * 60 * 3  # longer than any nightly run; released in ``finally`` anyway


@contextmanager
def job_lock(name: str, timeout: int = LOCK_TIMEOUT) -> Iterator[bool]:
    """True when this run holds the lock ``lock:<name>``; False when another run holds it.
    Name it ``<app>:<job>`` so apps never share a lock by accident."""
    key = f"lock:{name}"
    session = _session_hold(key)
    if session is False:  # a live run holds the advisory lock
        yield False
        return
    acquired = cache.add(key, session or 1, timeout)
    if not acquired and session and _holder_gone(cache.get(key)):
        cache.set(key, session, timeout)  # its holder died mid-run: take it over
        acquired = True
    try:
        yield acquired
    finally:
        if acquired:
            cache.delete(key)
        if session:
            _session_release(key)


def _advisory_key(key: str) -> int:
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big", signed=True)


def _session_hold(key: str) -> str | bool | None:
    """On PostgreSQL: this session's ``pg:<pid>:<backend start>`` when it took the advisory
    lock for ``key``, False when another session holds it. None elsewhere."""
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_try_advisory_lock(%s), pg_backend_pid(),"
            " (SELECT extract(epoch FROM backend_start) FROM pg_stat_activity"
            "  WHERE pid = pg_backend_pid())",
            [_advisory_key(key)],
        )
        taken, pid, started = cursor.fetchone()
    return f"pg:{pid}:{started}" if taken else False


def _holder_gone(holder: object) -> bool:
    """True when ``holder`` names a database session that no longer exists. A holder this
    code did not write (another kind of run, an operator) is never presumed gone."""
    if not isinstance(holder, str) or not holder.startswith("pg:"):
        return False
    _pg, pid, started = holder.split(":", 2)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE pid = %s AND extract(epoch FROM backend_start)::text = %s",
            [int(pid), started],
        )
        return cursor.fetchone()[0] == 0


def _session_release(key: str) -> None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [_advisory_key(key)])
    except DatabaseError:
        pass  # the session is gone (or its transaction failed), and a lost session's lock with it


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
