"""Outbound webhooks and the operations middleware (issue 16), each next to its physical
reference in the same run:

- delivery throughput: ``order.earned`` deliveries made the real way (orders through
  ``order_ingest`` with three endpoints subscribed, their outbox events delivered to
  ``on_event``), then sent one by one by ``integrations.webhook_send`` in this process, as a
  worker runs it (claim, SSRF check, signed POST on a new connection, the outcome recorded with
  the endpoint row locked), to a real receiver on 127.0.0.1 in a process of its own
  (``tests/integrations/receiver.py``); against a bare ``http.client`` loop posting the same
  bodies, signed, one new connection per post, nothing recorded;
- fan-out on the order path: ``order_ingest`` with three endpoints subscribed to
  ``order.earned`` (the outbox row and the delivery task queued on commit) against the same
  with no active endpoint (no outbox row at all), in alternating blocks;
- ``/healthz``, ``/readyz`` and ``/metrics`` (``METRICS_TOKEN`` set) through the test Client,
  against a bare JSON view behind the whole middleware stack (the probes are answered by
  ``ProbeMiddleware``, first in the stack), requests in turn.

Tasks queued on commit go to the broker, as in production, and are purged (``api._tasks_queued``).
The group makes the few rows it needs itself (a store, twenty members and their orders, which
stay; three endpoints, deleted afterwards with their deliveries), so it needs no seeded data
set (``run.UNSEEDED_GROUPS``). The task is called in this process: a worker's own costs
(fetching and acknowledging the message, its signals) are not in the figure.
Posting to loopback over plain http is allowed for the run only.
"""

from __future__ import annotations

import contextlib
import http.client
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from urllib.parse import urlsplit

from django.conf import settings
from django.db import connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.core import events
from apps.core.models import OutboxEvent
from apps.customers.models import Customer, Store
from apps.integrations.enums import DeliveryStatus
from apps.integrations.models import Delivery, Endpoint
from apps.integrations.selectors import event_names_forget
from apps.integrations.sending import body_bytes, webhook_send
from apps.integrations.services import endpoint_create, endpoint_delete
from apps.integrations.signing import (
    DELIVERY_HEADER,
    EVENT_HEADER,
    SIGNATURE_HEADER,
    signature_header,
)
from apps.integrations.transport import USER_AGENT
from apps.loyalty.services import order_ingest
from tests.bench.api import _tasks_queued
from tests.bench.measure import BENCH_URLCONF, result_row, skipped
from tests.customers.factories import CustomerFactory, StoreFactory

ORDERS_AT_SCALE_1 = 600  # per side of the fan-out row; x 3 endpoints = 1,800 deliveries
ENDPOINTS = 3
MEMBERS = 20
BLOCKS = 8  # alternating blocks per side (fan-out) and chunks (delivery): a busy machine's
# slow moments fall on both sides alike
PROBE_REQUESTS_AT_SCALE_1 = 500
METRICS_TOKEN = "bench-metrics-token"  # a throwaway token, for this run only
RUN = f"{int(time.time()):x}"

# The receiver runs in a process of its own, as another system would: it does not share this
# process's interpreter lock with the sender. It stops when its stdin closes.
_RECEIVER = (
    "import sys\n"
    "from tests.integrations.receiver import receiver_start\n"
    "print(receiver_start().url, flush=True)\n"
    "sys.stdin.read()\n"
)


@contextlib.contextmanager
def _receiver() -> Iterator[str]:
    process = subprocess.Popen(
        [sys.executable, "-c", _RECEIVER],
        cwd=settings.BASE_DIR,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        url = process.stdout.readline().strip()
        if not url.startswith("http://"):
            raise RuntimeError(f"the receiver did not start (said {url!r})")
        yield url
    finally:
        process.stdin.close()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _members() -> tuple[Store, list[Customer]]:
    store = StoreFactory(code="bench-webhooks", name="Bench webhooks")
    members = []
    for i in range(MEMBERS):
        email = f"bench-webhooks-{i}@example.com"
        members.append(Customer.objects.filter(email=email).first() or CustomerFactory(email=email))
    return store, members


def _ingest(store: Store, members: list[Customer], prefix: str, n: int) -> list[int]:
    placed = timezone.now()
    return [
        order_ingest(
            store=store,
            external_id=f"WH-{RUN}-{prefix}-{i:06d}",
            customer=members[i % len(members)],
            placed_at=placed,
            total=Decimal("128.00"),
        )[0].pk
        for i in range(n)
    ]


def _endpoints_active(ids: list[int], active: bool) -> None:
    # Switched in bulk between blocks (the bench's own toggle, not an Administrator's change):
    # the cached list of subscribed events is dropped as the services' signal would.
    Endpoint.objects.filter(pk__in=ids).update(active=active)
    event_names_forget()


def _fan_out(
    store: Store, members: list[Customer], endpoint_ids: list[int], n: int
) -> tuple[dict, list[int]]:
    """``n`` orders without and ``n`` with the endpoints, in alternating blocks. Seconds and
    one order's statements per side, and the orders made with the endpoints on."""
    sides = {False: {"seconds": 0.0}, True: {"seconds": 0.0}}
    with_endpoints: list[int] = []
    for active in (False, True):  # warm-up, and one order's statements, per side
        _endpoints_active(endpoint_ids, active)
        made = _ingest(store, members, f"W{int(active)}", 3)
        with CaptureQueriesContext(connection) as ctx:
            made += _ingest(store, members, f"Q{int(active)}", 1)
        sides[active]["queries"] = len(
            [q for q in ctx.captured_queries if q["sql"] not in ("BEGIN", "COMMIT")]
        )
        if active:
            with_endpoints += made
    size = -(-n // BLOCKS)
    done = {False: 0, True: 0}
    for block in range(BLOCKS * 2):
        active = block % 2 == 1
        count = min(size, n - done[active])
        _endpoints_active(endpoint_ids, active)
        started = time.perf_counter()
        made = _ingest(store, members, f"{int(active)}{block}", count)
        sides[active]["seconds"] += time.perf_counter() - started
        done[active] += count
        if active:
            with_endpoints += made
    _endpoints_active(endpoint_ids, True)
    return sides, with_endpoints


def _deliveries_make(order_ids: list[int]) -> tuple[float, int]:
    """The outbox events of these orders handed to their after-commit subscriber (``on_event``
    makes one delivery per endpoint and queues its attempt, which goes to the broker)."""
    event_ids = list(
        OutboxEvent.objects.filter(
            name="order.earned", payload__order_id__in=order_ids, delivered_at__isnull=True
        ).values_list("pk", flat=True)
    )
    started = time.perf_counter()
    for event_id in event_ids:
        events.outbox_event_deliver(event_id=str(event_id))
    return time.perf_counter() - started, len(event_ids)


def _bare_post(host: str, port: int, path: str, item: tuple[str, str, str, bytes]) -> int:
    delivery_id, event_name, secret, body = item
    conn = http.client.HTTPConnection(host, port, timeout=settings.WEBHOOK_TIMEOUT_SECONDS)
    try:
        conn.request(
            "POST",
            path,
            body=body,
            headers={
                "Content-Type": "application/json",
                "User-Agent": USER_AGENT,
                SIGNATURE_HEADER: signature_header(secret=secret, body=body),
                EVENT_HEADER: event_name,
                DELIVERY_HEADER: delivery_id,
            },
        )
        response = conn.getresponse()
        response.read(1024)
        return response.status
    finally:
        conn.close()


def _timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def _delivery_row(url: str, endpoint_ids: list[int], order_ids: list[int]) -> dict:
    label = "webhook delivery, order.earned"
    setup_seconds, event_count = _deliveries_make(order_ids)
    deliveries = list(
        Delivery.objects.filter(endpoint_id__in=endpoint_ids, status=DeliveryStatus.PENDING)
        .select_related("endpoint")
        .order_by("created_at", "pk")
    )
    if len(deliveries) < 2:
        return skipped(label, f"only {len(deliveries)} deliveries were made")
    # The reference's items: the same bodies and secrets, read before any timing.
    items = [(str(d.pk), d.event_name, d.endpoint.secret, body_bytes(d)) for d in deliveries]
    parts = urlsplit(url)
    host, port, path = parts.hostname, parts.port, parts.path

    # The first of each, untimed: connections made, code paths warm; one attempt's statements.
    with CaptureQueriesContext(connection) as ctx:
        webhook_send(items[0][0])
    statements = [q["sql"] for q in ctx.captured_queries if q["sql"] not in ("BEGIN", "COMMIT")]
    warm_status = _bare_post(host, port, path, items[0])
    ids = [item[0] for item in items[1:]]
    bare = items[1:]
    n = len(ids)
    size = -(-n // BLOCKS)
    app_seconds = reference_seconds = 0.0
    statuses: list[int] = []
    for chunk, start in enumerate(range(0, n, size)):
        part_ids, part_bare = ids[start : start + size], bare[start : start + size]

        def app(part_ids=part_ids) -> None:
            for delivery_id in part_ids:
                webhook_send(delivery_id)

        def reference(part_bare=part_bare) -> None:
            statuses.extend(_bare_post(host, port, path, item) for item in part_bare)

        if chunk % 2:  # each side goes first in every other chunk
            reference_seconds += _timed(reference)
            app_seconds += _timed(app)
        else:
            app_seconds += _timed(app)
            reference_seconds += _timed(reference)

    succeeded = Delivery.objects.filter(
        pk__in=ids, status=DeliveryStatus.SUCCEEDED, attempts=1
    ).count()
    reference_ok = sum(1 for status in statuses if status == 200)
    return result_row(
        f"{label}, {n:,} deliveries to a local receiver, one by one",
        value=n / app_seconds,
        unit="deliveries/s",
        reference=n / reference_seconds,
        reference_label="bare http.client loop: same signed bodies, new connection per post",
        higher_is_better=True,
        deliveries=n,
        succeeded=succeeded,
        reference_ok=reference_ok,
        reference_warm_status=warm_status,
        queries=len(statements),
        reference_queries=0,
        ms_per_delivery=round(app_seconds / n * 1000, 2),
        reference_ms_per_post=round(reference_seconds / n * 1000, 2),
        outbox_events=event_count,
        outbox_to_deliveries_seconds=round(setup_seconds, 2),
        sql=[q[:120] for q in statements],
        detail=(
            f"{succeeded:,}/{n:,} succeeded, reference {reference_ok:,}/{n:,} answered 200; "
            f"{app_seconds / n * 1000:.2f} ms against {reference_seconds / n * 1000:.2f} ms per "
            f"post; making them (outbox -> on_event, {ENDPOINTS} endpoints): "
            f"{event_count / setup_seconds:,.0f} events/s"
        ),
    )


def _fan_out_row(sides: dict, n: int) -> dict:
    without, with_ = sides[False], sides[True]
    extra_ms = (with_["seconds"] - without["seconds"]) / n * 1000
    return result_row(
        f"order_ingest with {ENDPOINTS} endpoints on order.earned, {n:,} orders",
        value=n / with_["seconds"],
        unit="orders/s",
        reference=n / without["seconds"],
        reference_label="the same orders with no active endpoint",
        higher_is_better=True,
        queries=with_["queries"],
        reference_queries=without["queries"],
        extra_ms_per_order=round(extra_ms, 2),
        detail=(
            f"{extra_ms:+.2f} ms per order (outbox row, delivery task queued on commit); "
            f"blocks alternate"
        ),
    )


def _probe_rows(n: int) -> list[dict]:
    client = Client()
    auth = {"HTTP_AUTHORIZATION": f"Bearer {METRICS_TOKEN}"}
    urls = {
        "reference": ("/bench/noop-json/", {}),
        "/healthz": ("/healthz", {}),
        "/readyz": ("/readyz", {}),
        "/metrics": ("/metrics", auth),
    }
    # Warm-up (the first /readyz also checks the migrations); then requests in turn, so that
    # each path sees the same machine.
    answers = {name: client.get(url, **extra).status_code for name, (url, extra) in urls.items()}
    if answers["reference"] != 200:
        return [skipped("probes", f"the bare view answered {answers['reference']}")]
    measured = {name: urls[name] for name, status in answers.items() if status == 200}
    samples: dict[str, list[float]] = {name: [] for name in measured}
    for _ in range(n):
        for name, (url, extra) in measured.items():
            started = time.perf_counter()
            client.get(url, **extra)
            samples[name].append(time.perf_counter() - started)
    reference = statistics.median(samples["reference"]) * 1000
    rows = []
    notes = {
        "/healthz": "answered by ProbeMiddleware, nothing checked",
        "/readyz": "database, cache, broker, migrations, each in a long-lived probe thread "
        "keeping its database connection",
        "/metrics": "bearer token; this process's registry + scrape-time collectors",
    }
    for name in ("/healthz", "/readyz", "/metrics"):
        if answers.get(name) != 200:
            rows.append(skipped(f"GET {name}", f"answered {answers.get(name)}"))
            continue
        value = statistics.median(samples[name]) * 1000
        rows.append(
            result_row(
                f"GET {name}, {n:,} requests (median)",
                value=value,
                unit="ms",
                reference=reference,
                reference_label="bare JSON view through the whole middleware stack",
                p95_ms=round(statistics.quantiles(samples[name], n=20)[-1] * 1000, 2),
                reference_p95_ms=round(
                    statistics.quantiles(samples["reference"], n=20)[-1] * 1000, 2
                ),
                detail=f"{notes[name]}; {1000 / value:,.0f} req/s",
            )
        )
    return rows


def measure_webhooks(*, scale: float) -> list[dict]:
    n = max(100, round(ORDERS_AT_SCALE_1 * scale))
    with (
        override_settings(WEBHOOK_ALLOW_HTTP=True, WEBHOOK_ALLOW_PRIVATE_NETWORKS=True),
        _tasks_queued(),
        _receiver() as url,
    ):
        store, members = _members()
        endpoints = [
            endpoint_create(
                url=url,
                description=f"Bench receiver {i + 1}",
                event_types=["order.earned"],
                actor=None,
            )[0]
            for i in range(ENDPOINTS)
        ]
        endpoint_ids = [e.pk for e in endpoints]
        try:
            sides, order_ids = _fan_out(store, members, endpoint_ids, n)
            fan_out = _fan_out_row(sides, n)
            delivery = _delivery_row(url, endpoint_ids, order_ids)
        finally:
            for endpoint in Endpoint.objects.filter(pk__in=endpoint_ids):
                endpoint_delete(endpoint=endpoint, actor=None)
    with override_settings(ROOT_URLCONF=BENCH_URLCONF, METRICS_TOKEN=METRICS_TOKEN):
        probes = _probe_rows(max(100, round(PROBE_REQUESTS_AT_SCALE_1 * scale)))
    return [delivery, fan_out, *probes]
