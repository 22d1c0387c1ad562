"""Real threads against the real database, for the exactly-once tests (PostgreSQL)."""

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from django.db import connection


def run_concurrently(n: int, target, *, workers: int = 32) -> list[tuple[str, object]]:
    """Call ``target(i)`` for i in range(n) on ``workers`` threads, released together; returns
    ("ok", result) or ("error", exception) per call, in call order. Each thread closes its own
    database connection."""
    start = threading.Event()

    def call(i):
        try:
            start.wait()
            return ("ok", target(i))
        except Exception as exc:  # every outcome is asserted by the caller
            return ("error", exc)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(call, i) for i in range(n)]
        start.set()
        return [f.result(timeout=120) for f in futures]


def outcome_kinds(outcomes) -> Counter:
    """``{"ok": n, "<ExceptionName>": m}`` of ``run_concurrently``'s outcomes."""
    return Counter("ok" if status == "ok" else type(value).__name__ for status, value in outcomes)
