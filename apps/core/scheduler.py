"""Celery beat as a singleton: ``SingletonDatabaseScheduler`` (``CELERY_BEAT_SCHEDULER``).

django-celery-beat's DatabaseScheduler does nothing to stop a second beat process from
scheduling every periodic job a second time (two machines, a deploy that overlaps the old
release). This one schedules only while it holds a PostgreSQL session advisory lock; a second
beat finds the lock taken and stands by, trying again every ``STANDBY_POLL_SECONDS``. The lock
lives on a connection of its own, so PostgreSQL drops it the moment its holder dies (SIGKILL,
lost machine, restarted database) and the standby takes over within one poll: a hot standby.

Taking over, a standby first reads the schedule again from the database, where the active beat
wrote each job's ``last_run_at`` right after sending it (``sync_every_tasks=1``), so it does not
send again what the other has sent; only a crash between a send and that write can repeat one
send, and every job is idempotent (DESIGN.md §5).

On SQLite (``make run``: one process, one beat) there is no lock to take and it simply runs."""

import contextlib
import hashlib
import logging

from django.db import DatabaseError, connections
from django_celery_beat.schedulers import DatabaseScheduler

log = logging.getLogger(__name__)

STANDBY_POLL_SECONDS = 5.0
LOCK_NAME = "clientele:celery-beat"


def lock_key(name: str = LOCK_NAME) -> int:
    """A signed 64-bit advisory-lock key for ``name`` (stable across processes)."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


class SingletonDatabaseScheduler(DatabaseScheduler):
    def __init__(self, *args, **kwargs):
        self._lock_db = None  # a private connection (not in ``connections``: never recycled)
        self._leading = False
        self._told_standby = False
        kwargs.setdefault("sync_every_tasks", 1)
        super().__init__(*args, **kwargs)

    def tick(self, *args, **kwargs):
        if not self._lead():
            return STANDBY_POLL_SECONDS
        return super().tick(*args, **kwargs)

    def close(self):
        self._release()
        super().close()

    def _lead(self) -> bool:
        """True while this process holds the beat lock (checked on every tick: a lock whose
        connection died is gone, and another beat may hold it by now)."""
        if connections["default"].vendor != "postgresql":
            return True
        try:
            if self._lock_db is None:
                self._lock_db = connections.create_connection("default")
            with self._lock_db.cursor() as cursor:
                if self._leading:
                    cursor.execute("SELECT 1")
                    return True
                cursor.execute("SELECT pg_try_advisory_lock(%s)", [lock_key()])
                acquired = cursor.fetchone()[0]
        except DatabaseError:
            if self._leading:
                log.warning("celery beat lost its lock (database connection lost); standing by")
            self._leading = False
            self._drop()
            return False
        if not acquired and not self._told_standby:
            log.warning("celery beat: another beat holds the beat lock; standing by")
            self._told_standby = True
        if acquired:
            log.warning("celery beat holds the beat lock: scheduling periodic jobs")
            self._leading = True
            self._told_standby = False
            # Start from what the previous active beat recorded, not from our stale copy.
            self._initial_read = True
            self._heap = None
        return acquired

    def _release(self) -> None:
        if self._lock_db is not None and self._leading:
            try:
                with self._lock_db.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(%s)", [lock_key()])
            except DatabaseError:
                pass  # the connection is gone, and the lock with it
        self._leading = False
        self._drop()

    def _drop(self) -> None:
        if self._lock_db is not None:
            with contextlib.suppress(DatabaseError):
                self._lock_db.close()
            self._lock_db = None
