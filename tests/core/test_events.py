"""Domain events: the closed list, in-transaction and after-commit subscribers, the outbox, and
the rule that wiring happens in ``AppConfig.ready()`` only."""

import datetime as dt
from io import StringIO

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from apps.core import catalogue, events
from apps.core.models import OutboxEvent
from apps.customers.models import Customer
from tests.customers.factories import CustomerFactory

pytestmark = pytest.mark.django_db


class Boom(Exception):
    pass


def test_publishing_an_unknown_event_is_refused():
    with pytest.raises(events.UnknownEvent):
        events.publish("order.teleported", order_id=1)


def test_payloads_carry_ids_and_plain_values_not_model_instances():
    customer = CustomerFactory()
    with pytest.raises(TypeError, match="model instance"):
        events.publish("customer.enrolled", customer_id=customer)
    with pytest.raises(TypeError, match="not a plain value"):
        events.publish("customer.enrolled", customer_id=object())


@pytest.mark.django_db(transaction=True)
def test_publishing_outside_a_transaction_is_refused():
    with pytest.raises(RuntimeError, match="inside the service's transaction"):
        events.publish("customer.enrolled", customer_id=1)


def test_subscribing_outside_app_ready_is_refused():
    with pytest.raises(ImproperlyConfigured, match=r"AppConfig\.ready\(\)"):
        events.subscribe("customer.enrolled", lambda event: None, when="in_transaction")
    assert all(s.handler.__module__ != __name__ for s in events.subscribers("customer.enrolled"))


def test_subscribing_to_an_unknown_event_is_refused():
    with events.late_wiring(), pytest.raises(events.UnknownEvent):
        events.subscribe("order.teleported", lambda event: None, when="in_transaction")


def test_in_transaction_subscribers_commit_and_roll_back_with_the_publisher():
    seen = []

    def handler(event):
        seen.append(event.payload)
        CustomerFactory(first_name="Written-by-subscriber")

    with events.late_wiring():
        events.subscribe("refund.recorded", handler, when="in_transaction")
        with pytest.raises(Boom), transaction.atomic():
            events.publish("refund.recorded", refund_id=7, order_id=3)
            raise Boom
        assert seen == [{"refund_id": 7, "order_id": 3}]
        assert not OutboxEvent.objects.exists()  # no after-commit subscriber: no outbox row
        assert not Customer.objects.filter(first_name="Written-by-subscriber").exists()


def test_after_commit_subscribers_get_the_event_from_the_outbox_once(
    django_capture_on_commit_callbacks,
):
    seen = []
    with events.late_wiring():
        events.subscribe(
            "refund.recorded", lambda e: seen.append((e.id, e.payload)), when="after_commit"
        )
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            event = events.publish("refund.recorded", refund_id=7, order_id=dt.date(2026, 1, 2))
        row = OutboxEvent.objects.get()
        assert (str(row.pk), row.name, row.payload, row.delivered_at) == (
            event.id,
            "refund.recorded",
            {"refund_id": 7, "order_id": "2026-01-02"},
            None,
        )
        assert seen == []  # nothing before commit
        for callback in callbacks:
            callback()
        assert seen == [(event.id, {"refund_id": 7, "order_id": "2026-01-02"})]
        row.refresh_from_db()
        assert row.delivered_at is not None and row.attempts == 0
        assert events.outbox_event_deliver(event_id=event.id) is True  # a duplicate delivery
        assert len(seen) == 1


def test_a_failing_subscriber_is_retried_and_the_others_are_not_called_twice(
    django_capture_on_commit_callbacks,
):
    calls = {"ok": 0, "flaky": 0}
    state = {"fail": True}

    def ok(event):
        calls["ok"] += 1

    def flaky(event):
        calls["flaky"] += 1
        CustomerFactory(first_name="Half-written")
        if state["fail"]:
            raise Boom("gateway down")

    with events.late_wiring():
        events.subscribe("refund.recorded", ok, when="after_commit")
        events.subscribe("refund.recorded", flaky, when="after_commit")
        with django_capture_on_commit_callbacks(execute=False):
            event = events.publish("refund.recorded", refund_id=1, order_id=2)
        with pytest.raises(Boom):
            events.outbox_event_deliver(event_id=event.id)
        row = OutboxEvent.objects.get()
        assert (row.attempts, row.delivered_at) == (1, None)
        assert (
            row.last_error.startswith("tests.core.test_events.")
            and "gateway down" in row.last_error
        )
        assert row.done == [events.subscribers("refund.recorded")[0].name]
        assert not Customer.objects.filter(first_name="Half-written").exists()

        state["fail"] = False
        assert events.outbox_event_deliver(event_id=event.id) is True
        row.refresh_from_db()
        assert row.delivered_at is not None and row.last_error == ""
        assert calls == {"ok": 1, "flaky": 2}
        assert Customer.objects.filter(first_name="Half-written").count() == 1


def test_the_sweep_queues_undelivered_events_and_purges_old_delivered_ones(
    django_capture_on_commit_callbacks,
):
    seen = []
    with events.late_wiring():
        events.subscribe("refund.recorded", lambda e: seen.append(e.id), when="after_commit")
        with django_capture_on_commit_callbacks(execute=False):  # the on-commit task is "lost"
            lost = events.publish("refund.recorded", refund_id=1, order_id=2)
        fresh_delivered = OutboxEvent.objects.create(
            id="00000000-0000-0000-0000-000000000001",
            name="refund.recorded",
            delivered_at=timezone.now(),
        )
        old_delivered = OutboxEvent.objects.create(
            id="00000000-0000-0000-0000-000000000002",
            name="refund.recorded",
            delivered_at=timezone.now() - dt.timedelta(days=events.OUTBOX_KEEP_DAYS + 1),
        )
        assert events.outbox_sweep() == 0  # too young: its task may still be on its way
        OutboxEvent.objects.filter(pk=lost.id).update(
            created_at=timezone.now() - dt.timedelta(minutes=5)
        )
        assert events.outbox_sweep() == 1
        assert seen == [lost.id]
        assert {str(pk) for pk in OutboxEvent.objects.values_list("pk", flat=True)} == {
            str(fresh_delivered.pk),
            lost.id,
        }
        assert not OutboxEvent.objects.filter(pk=old_delivered.pk).exists()


def test_the_source_publishes_only_known_events():
    published = catalogue.publishers()
    assert set(published) <= set(events.EVENTS), set(published) - set(events.EVENTS)
    # The wiring the product relies on is there.
    assert {"order.recorded", "orders.imported", "customer.enrolled", "order.earned"} <= set(
        published
    )


def test_subscribers_and_providers_register_only_in_app_ready():
    calls = catalogue.wiring_calls()
    assert calls, "the scan found no wiring at all"
    misplaced = [
        f"{c.module}:{c.line} {c.kind[0]}.{c.kind[1]} in {c.function}"
        for c in calls
        if not (c.module.endswith(".apps") and c.function.endswith(".ready"))
    ]
    assert misplaced == []


def test_the_wiring_is_in_place_after_startup():
    def names(event):
        return {(s.name, s.when) for s in events.subscribers(event)}

    assert names("orders.imported") == {
        ("apps.loyalty.services.earning_bulk.on_orders_imported", "in_transaction")
    }
    assert names("customer.enrolled") == {
        ("apps.loyalty.services.bonuses.on_customer_enrolled", "in_transaction"),
        ("apps.campaigns.tasks.on_journey_event", "after_commit"),
    }
    # The reminder is the built-in journey's message: the loyalty engine only publishes.
    assert names("points.expiring") == {("apps.campaigns.tasks.on_journey_event", "after_commit")}
    assert names("customer.unsubscribed") == {
        ("apps.campaigns.services.tracking.on_customer_unsubscribed", "after_commit")
    }


def test_manage_py_events_lists_publishers_and_subscribers():
    out = StringIO()
    call_command("events", stdout=out)
    text = out.getvalue()
    for name in events.EVENTS:
        assert name in text
    assert "published by  apps.customers.importing.orders.orders_import" in text
    assert "in_transaction apps.loyalty.services.earning_bulk.on_orders_imported" in text
    assert (
        "  published by  apps.loyalty.services.reminders._remind_chunk\n"
        "  after_commit   apps.campaigns.tasks.on_journey_event\n"
    ) in text


def test_an_event_no_after_commit_subscriber_wants_costs_no_outbox_row(
    django_capture_on_commit_callbacks,
):
    wanted = {"now": False}
    seen = []
    with events.late_wiring():
        events.subscribe(
            "refund.recorded",
            seen.append,
            when="after_commit",
            wanted=lambda name: wanted["now"],
        )
        with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
            events.publish("refund.recorded", refund_id=1, order_id=1)
        assert not OutboxEvent.objects.exists() and seen == []
        wanted["now"] = True
        with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
            events.publish("refund.recorded", refund_id=2, order_id=1)
        assert OutboxEvent.objects.count() == 1
        assert [e.payload["refund_id"] for e in seen] == [2]
        with pytest.raises(ValueError, match="after-commit"):
            events.subscribe("refund.recorded", seen.append, when="in_transaction", wanted=bool)
