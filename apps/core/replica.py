"""Reports and exports read from a read replica when one is configured (``DATABASE_REPLICA_URL``).

Only inside an explicit reporting context::

    with reporting():
        matrix = cohort_matrix(filters=filters)

or ``@reporting()`` on a function, or ``reporting_iter(rows)`` around a lazy row iterator that is
consumed later (a streamed CSV's rows run after the view has returned). Everything else reads
the primary: a page must see what its own request, or the one just before it, wrote, and a
replica may lag behind by a moment. Reports and exports can afford that moment; they are the
heavy reads the replica is there to take off the primary.

:class:`ReplicaRouter` (``DATABASE_ROUTERS``, set only with a replica) keeps these rules:

- writes always go to ``default``, whatever database an instance was read from (Django would
  otherwise save an object read from the replica back to the replica);
- reads go to the replica only inside a reporting context, and even there not while ``default``
  is inside a transaction (what that transaction wrote is not on the replica, and a locking
  read, ``select_for_update``, is routed as a write anyway);
- outside one, reads go to ``default`` explicitly, also for related objects of an instance read
  from the replica (Django would otherwise follow the instance to the replica);
- objects from either database may be related (it is the same data);
- migrations run on ``default`` only (the replica follows by replication).

Without a ``replica`` database alias the router answers nothing and Django's defaults apply.
"""

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TypeVar

from django.db import DEFAULT_DB_ALIAS, connections

REPLICA = "replica"
T = TypeVar("T")

_reporting: ContextVar[bool] = ContextVar("reporting", default=False)


@contextmanager
def reporting() -> Iterator[None]:
    """Reads inside read from the replica (when there is one); writes still go to the primary.
    Also a decorator: ``@reporting()``. Nests."""
    token = _reporting.set(True)
    try:
        yield
    finally:
        _reporting.reset(token)


def reporting_iter(rows: Iterable[T]) -> Iterator[T]:
    """``rows`` produced inside a reporting context, one item at a time.

    For a lazy iterator consumed later (a streamed response): the context is on only while the
    next item is produced and off while the consumer holds it, so it never leaks into the code
    that iterates, and an abandoned iterator leaves nothing behind."""
    iterator = iter(rows)
    while True:
        token = _reporting.set(True)
        try:
            item = next(iterator)
        except StopIteration:
            return
        finally:
            _reporting.reset(token)
        yield item


def in_reporting() -> bool:
    return _reporting.get()


def has_replica() -> bool:
    return REPLICA in connections.settings


class ReplicaRouter:
    """See the module docstring."""

    def db_for_read(self, model, **hints) -> str | None:
        if not has_replica():
            return None
        if _reporting.get() and not connections[DEFAULT_DB_ALIAS].in_atomic_block:
            return REPLICA
        return DEFAULT_DB_ALIAS

    def db_for_write(self, model, **hints) -> str | None:
        return DEFAULT_DB_ALIAS if has_replica() else None

    def allow_relation(self, obj1, obj2, **hints) -> bool | None:
        if not has_replica():
            return None
        both = {DEFAULT_DB_ALIAS, REPLICA}
        return True if obj1._state.db in both and obj2._state.db in both else None

    def allow_migrate(self, db, app_label, model_name=None, **hints) -> bool | None:
        return False if db == REPLICA else None
