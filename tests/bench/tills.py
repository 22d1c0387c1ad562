# ruff: noqa: T201 - a console script reports on stdout
"""The tills of the load benchmark (``tests/bench/load.py``): a load generator on the standard
library only, run as its own process so that it never shares an interpreter (or a GIL) with the
server it loads.

    python -m tests.bench.tills PARAMS.json

``PARAMS.json`` holds ``host``, ``port``, ``path``, ``api_key``, ``tills``, ``seconds``,
``warmup_requests``, ``run`` (a tag that makes every external id and Idempotency-Key of this run
unique), ``members`` (member numbers to serve, cycled) and ``stores`` (store codes). Each till is
a thread with one HTTP/1.1 connection (reopened when the server closes it: gunicorn's sync
workers close after every response) posting orders one after the other, each with its own
Idempotency-Key and external id: first ``warmup_requests`` each (the workers' first requests
load what Django loads lazily; these count for errors, not for the figures), then, once every
till is warm, for ``seconds``. Prints one JSON object on stdout: requests,
the statuses, error samples, requests/s and latency percentiles in milliseconds, and (with
``server_pgid``, the server's process group) the server's CPU time per request in the window,
master and workers together (not the database's, which runs in PostgreSQL's processes).
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import os
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

ERROR_SAMPLES = 5
BARRIER_SECONDS = 600


def percentile(ordered: list[float], p: float) -> float | None:
    """The ``p``-th percentile (0-100) of ascending ``ordered`` samples, interpolated linearly
    between the closest ranks (numpy's default). None without samples."""
    if not ordered:
        return None
    if not 0 <= p <= 100:
        raise ValueError(f"percentile out of range: {p}")
    rank = (len(ordered) - 1) * p / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def external_id(run: str, till: int, n: int) -> str:
    return f"LOAD-{run}-{till:02d}-{n:07d}"


def idempotency_key(run: str, till: int, n: int) -> str:
    return f"load-{run}-{till:02d}-{n:07d}"


def order_body(
    *, run: str, till: int, n: int, members: list[str], stores: list[str], tills: int, placed: str
) -> dict:
    """The ``n``-th order of a till, shaped as the sequential API benchmark's (one line of
    128.00, the total equal to it). Tills take members in turn from the shared list (till t gets
    t, t + tills, ...), so concurrent tills serve different members, as real tills do."""
    member = members[(till + n * tills) % len(members)]
    return {
        "external_id": external_id(run, till, n),
        "member_number": member,
        "store": stores[till % len(stores)],
        "placed_at": placed,
        "total": "128.00",
        "lines": [
            {
                "sku": "TEA-TGY-100",
                "name": "Tieguanyin",
                "category": "Tea",
                "quantity": 1,
                "unit_price": "128.00",
            }
        ],
    }


@dataclass
class TillLog:
    """What one till saw: latencies (seconds) and statuses of the measured requests, statuses
    of the warm-up ones, and a few error samples. Status 0 is a transport error."""

    latencies: list[float] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    warmup_statuses: Counter = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    first_at: float | None = None
    last_at: float | None = None


def _post(conn: http.client.HTTPConnection, path: str, body: bytes, headers: dict) -> tuple:
    conn.request("POST", path, body=body, headers=headers)
    response = conn.getresponse()
    return response.status, response.read()


def run_till(params: dict, till: int, barrier: threading.Barrier, window: dict) -> TillLog:
    """One till: ``warmup_requests`` orders (every worker warm, the connection open), wait for
    the other tills, then orders one after the other until the window closes."""
    log = TillLog()
    placed = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).isoformat()
    conn = http.client.HTTPConnection(params["host"], params["port"], timeout=60)
    headers = {
        "Authorization": f"Api-Key {params['api_key']}",
        "Content-Type": "application/json",
        # As behind the TLS-terminating proxy production expects (SECURE_PROXY_SSL_HEADER).
        "X-Forwarded-Proto": "https",
    }

    def post(n: int) -> tuple[int, float]:
        nonlocal conn
        body = order_body(
            run=params["run"],
            till=till,
            n=n,
            members=params["members"],
            stores=params["stores"],
            tills=params["tills"],
            placed=placed,
        )
        data = json.dumps(body).encode()
        key = idempotency_key(params["run"], till, n)
        started = time.perf_counter()
        try:
            status, answer = _post(conn, params["path"], data, {**headers, "Idempotency-Key": key})
        except (OSError, http.client.HTTPException) as exc:
            status, answer = 0, f"{type(exc).__name__}: {exc}".encode()
            conn.close()
        elapsed = time.perf_counter() - started
        if not 200 <= status < 300 and len(log.errors) < ERROR_SAMPLES:
            log.errors.append(f"{status} {answer[:300].decode('utf-8', 'replace')}")
        return status, elapsed

    n = 0
    for _ in range(params.get("warmup_requests", 0)):
        n += 1
        status, _elapsed = post(n)
        log.warmup_statuses[status] += 1
    barrier.wait()
    while time.monotonic() < window["end"]:
        n += 1
        status, elapsed = post(n)
        log.latencies.append(elapsed)
        log.statuses[status] += 1
        log.last_at = time.monotonic()
    conn.close()
    return log


def summarise(logs: list[TillLog], *, seconds: float) -> dict:
    """The run's figures from the tills' logs: requests/s over the measured window (from the
    first measured request's start to the last one's end), latency percentiles in ms."""
    latencies = sorted(x for log in logs for x in log.latencies)
    statuses: Counter = Counter()
    warmup: Counter = Counter()
    for log in logs:
        statuses.update(log.statuses)
        warmup.update(log.warmup_statuses)
    firsts = [log.first_at for log in logs if log.first_at is not None]
    lasts = [log.last_at for log in logs if log.last_at is not None]
    window = (max(lasts) - min(firsts)) if firsts else seconds
    requests = sum(statuses.values())
    ok = sum(n for status, n in statuses.items() if 200 <= status < 300)
    warmup_errors = sum(n for status, n in warmup.items() if not 200 <= status < 300)

    def ms(p: float) -> float | None:
        value = percentile(latencies, p)
        return None if value is None else round(value * 1000, 1)

    return {
        "tills": len(logs),
        "requests": requests,
        "ok": ok,
        "errors": requests - ok + warmup_errors,
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "warmup_requests": sum(warmup.values()),
        "warmup_statuses": {str(k): v for k, v in sorted(warmup.items())},
        "error_samples": [e for log in logs for e in log.errors][:ERROR_SAMPLES],
        "seconds": round(window, 2),
        "requests_per_second": round(len(latencies) / window, 1) if window > 0 else None,
        "p50_ms": ms(50),
        "p95_ms": ms(95),
        "p99_ms": ms(99),
        "max_ms": ms(100),
        "mean_ms": round(sum(latencies) / requests * 1000, 1) if requests else None,
    }


def group_cpu_seconds(pgid: int | None) -> float | None:
    """CPU time (user + system) of the processes in process group ``pgid`` (the server's
    master and workers), from /proc; None without /proc or a group."""
    if not pgid or not os.path.isdir("/proc"):
        return None
    ticks = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as fh:
                fields = fh.read().rpartition(")")[2].split()
        except OSError:  # gone meanwhile
            continue
        if int(fields[2]) == pgid:  # state, ppid, pgrp, ..., utime (11), stime (12)
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def run(params: dict) -> dict:
    tills = params["tills"]
    logs: list[TillLog | None] = [None] * tills
    window: dict[str, float] = {}
    cpu: dict[str, float | None] = {}

    def open_window() -> None:  # run by one thread when every till is warm
        cpu["server"] = group_cpu_seconds(params.get("server_pgid"))
        cpu["tills"] = time.process_time()
        window["start"] = time.monotonic()
        window["end"] = window["start"] + params["seconds"]

    barrier = threading.Barrier(tills, action=open_window, timeout=BARRIER_SECONDS)

    def work(i: int) -> None:
        try:
            logs[i] = run_till(params, i, barrier, window)
        except Exception as exc:  # a broken till is an error of the run, never a silent gap
            barrier.abort()
            logs[i] = TillLog(statuses=Counter({-1: 1}), errors=[f"till {i}: {exc!r}"])

    threads = [threading.Thread(target=work, args=(i,), daemon=True) for i in range(tills)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    server_cpu = group_cpu_seconds(params.get("server_pgid"))
    tills_cpu = time.process_time()
    done = [log for log in logs if log is not None]
    for log in done:
        log.first_at = window.get("start")
    summary = summarise(done, seconds=params["seconds"])
    answered = sum(len(log.latencies) for log in done)
    if server_cpu is not None and cpu.get("server") is not None and answered:
        used = server_cpu - cpu["server"]
        summary["server_cpu_seconds"] = round(used, 1)
        summary["server_cpu_ms_per_request"] = round(used / answered * 1000, 1)
    if "tills" in cpu and answered:
        summary["tills_cpu_ms_per_request"] = round((tills_cpu - cpu["tills"]) / answered * 1000, 2)
    return summary


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m tests.bench.tills PARAMS.json", file=sys.stderr)
        return 2
    with open(argv[0], encoding="utf-8") as fh:
        params = json.load(fh)
    print(json.dumps(run(params)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
