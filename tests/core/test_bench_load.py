"""The load benchmark's harness (``tests/bench/load.py``, ``tests/bench/tills.py``): its
percentiles, the tills' bodies and keys, the summary, and one short real run (gunicorn with
production settings against the test database, two tills for two seconds) that answers only
2xx, records every order once, leaves the ledger clean and stops the server (opt-in with
``BENCH_LOAD_TEST=1``: it takes 20-30 s, mostly Django starting in gunicorn). No timing is
asserted."""

import datetime as dt
import os
import socket
from collections import Counter
from decimal import Decimal

import pytest
from django.utils import timezone

from apps.accounts.services import api_key_create
from apps.customers.models import Order
from apps.loyalty.services import order_ingest
from tests.bench import load
from tests.bench.tills import (
    TillLog,
    external_id,
    idempotency_key,
    order_body,
    percentile,
    summarise,
)
from tests.customers.factories import CustomerFactory, StoreFactory
from tests.loyalty.factories import ProgrammeFactory


def test_percentile_interpolates_between_the_closest_ranks():
    samples = [1.0, 2.0, 3.0, 4.0]

    assert percentile(samples, 0) == 1.0
    assert percentile(samples, 50) == 2.5
    assert percentile(samples, 100) == 4.0
    assert percentile([float(i) for i in range(1, 101)], 95) == pytest.approx(95.05)
    assert percentile([7.0], 99) == 7.0


def test_percentile_of_nothing_is_none_and_out_of_range_is_refused():
    assert percentile([], 50) is None
    with pytest.raises(ValueError):
        percentile([1.0], 101)


def test_tills_serve_members_in_turn_with_ids_and_keys_of_their_own():
    members = ["m0", "m1", "m2", "m3", "m4"]
    stores = ["s0", "s1"]

    bodies = {
        (till, n): order_body(
            run="r", till=till, n=n, members=members, stores=stores, tills=2, placed="T"
        )
        for till in range(2)
        for n in range(1, 4)
    }

    assert [bodies[0, n]["member_number"] for n in range(1, 4)] == ["m2", "m4", "m1"]
    assert [bodies[1, n]["member_number"] for n in range(1, 4)] == ["m3", "m0", "m2"]
    assert {b["store"] for (till, _n), b in bodies.items() if till == 1} == {"s1"}
    assert bodies[1, 2]["external_id"] == "LOAD-r-01-0000002"
    assert len({b["external_id"] for b in bodies.values()}) == 6
    assert len({idempotency_key("r", t, n) for t, n in bodies}) == 6
    assert external_id("r", 0, 1) != external_id("s", 0, 1)
    line = bodies[0, 1]["lines"][0]
    assert Decimal(line["unit_price"]) * line["quantity"] == Decimal(bodies[0, 1]["total"])


def test_summary_counts_every_non_2xx_answer_warm_up_included():
    logs = [
        TillLog(
            latencies=[0.1, 0.2, 0.3],
            statuses=Counter({201: 2, 429: 1}),
            warmup_statuses=Counter({201: 1}),
            first_at=10.0,
            last_at=12.0,
        ),
        TillLog(
            latencies=[0.4],
            statuses=Counter({201: 1}),
            warmup_statuses=Counter({0: 1}),
            first_at=10.0,
            last_at=11.0,
        ),
    ]

    summary = summarise(logs, seconds=2)

    assert summary["requests"] == 4
    assert summary["ok"] == 3
    assert summary["errors"] == 2  # the 429, and the warm-up's transport error
    assert summary["statuses"] == {"201": 3, "429": 1}
    assert summary["requests_per_second"] == 2.0
    assert summary["p50_ms"] == 250.0
    assert summary["max_ms"] == 400.0


@pytest.mark.postgres
@pytest.mark.skipif(
    not os.environ.get("BENCH_LOAD_TEST"),
    reason="starts gunicorn: Django's start-up and a worker's first requests take 20-30 s on a "
    "busy 2-core machine; set BENCH_LOAD_TEST=1 to run it",
)
@pytest.mark.django_db(transaction=True)
def test_a_short_load_run_records_every_order_once_and_stops_the_server(tmp_path):
    ProgrammeFactory()
    store = StoreFactory(code="sh-01")
    members = [CustomerFactory(store=store) for _ in range(4)]
    for i, member in enumerate(members):
        order_ingest(
            store=store,
            external_id=f"PAST-{i}",
            customer=member,
            placed_at=timezone.now() - dt.timedelta(days=30),
            total=Decimal("50.00"),
        )
    _key, raw = api_key_create(name="load test")
    assert load.returning_members(limit=10) == [m.member_number for m in members]

    summary = load.load_run(
        seconds=2,
        tills=2,
        members=load.returning_members(limit=10),
        stores=["sh-01"],
        api_key=raw,
        log_path=tmp_path / "gunicorn.log",
        warmup_requests=1,
        workers=1,
    )

    assert summary["errors"] == 0, summary["error_samples"]
    assert summary["requests"] == summary["ok"] > 0
    assert set(summary["statuses"]) == {"201"}
    assert summary["warmup_statuses"] == {"201": 2}
    recorded = Order.objects.filter(external_id__startswith=f"LOAD-{summary['run']}-")
    assert recorded.count() == summary["ok"] + 2
    assert set(recorded.values_list("customer__member_number", flat=True)) == {
        m.member_number for m in members
    }
    clean, verdict = load.verify_ledger()
    assert clean, verdict
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", summary["port"]), 1):
        pass
