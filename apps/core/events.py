"""Domain events: the one way a lower layer tells a higher one that something happened.

A service publishes inside its transaction::

    events.publish("order.recorded", order_id=order.pk, customer_id=order.customer_id)

Payloads are ids and plain JSON values, never model instances. Event names are the closed list
in ``EVENTS`` below; publishing another name is an error. Subscribers register in their app's
``AppConfig.ready()`` and nowhere else (``subscribe`` refuses to run at any other time), so
whether a subscriber runs never depends on what happened to be imported first. Two kinds:

- ``when="in_transaction"``: called at once, inside the publisher's transaction, so its writes
  commit or roll back with the publisher's (earning the points of an imported order). An error
  propagates to the publisher.
- ``when="after_commit"``: durable. ``publish`` writes the event to the outbox table
  (``OutboxEvent``) in the publisher's transaction; after commit a Celery task delivers it to
  each subscriber in its own transaction, at least once, retrying on failure; a beat job sweeps
  up any event whose task was lost. A subscriber that succeeded is recorded on the event and not
  called again, but a crash between its commit and that record can repeat it: subscribers are
  idempotent by ``event.id``.

``manage.py events`` prints every event with its publishers (found in the source) and
subscribers. Provider registries (timeline sections, privacy export and erasure sections, demo
steps) follow the same rule: they register in ``ready()``; see ``wiring_only``.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from celery import shared_task
from django.apps import apps as django_apps
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, models, transaction
from django.utils import timezone
from psycopg.types.json import Jsonb

from .models import OutboxEvent

When = Literal["in_transaction", "after_commit"]

# The closed list: name -> what happened and the payload it carries.
EVENTS: dict[str, str] = {
    "account.phone_verified": "An account proved a mobile number by SMS code. user_id, phone.",
    "customer.enrolled": "A member joined one by one (staff, API, portal, admin). customer_id.",
    "customer.erased": "A customer's personal data was erased. customer_id.",
    "customer.merged": "A duplicate customer was merged into another. source_id, target_id.",
    "customer.unsubscribed": (
        "A member withdrew consent through an unsubscribe link. customer_id, channel, purpose."
    ),
    "order.recorded": "A new order was recorded. order_id, customer_id (or null), store_id.",
    "orders.imported": "An orders import wrote its orders. order_ids (new and already recorded).",
    "refund.recorded": "A new refund was recorded. refund_id, order_id.",
    "refund.clawed_back": (
        "A refund took back its share of the order's points (once per refund). refund_id, "
        "order_id, customer_id, points (taken from the balance and pending), owed, expired."
    ),
    "order.earned": (
        "A member's order earned its points (once per order). order_id, customer_id, "
        "configuration_version (the loyalty configuration it earned under, or null)."
    ),
    "tier.changed": "A member's tier changed. customer_id, old_tier_id, new_tier_id, direction.",
    "redemption.created": "A member redeemed a reward. redemption_id, customer_id, reward_id.",
    "redemption.fulfilled": (
        "A redemption was handed over, shipped or issued at once (a voucher). redemption_id, "
        "customer_id, reward_id."
    ),
    "consent.changed": (
        "A consent choice was recorded one by one (staff, portal, API, unsubscribe; not bulk "
        "imports). customer_id, channel, purpose, granted, source."
    ),
    "ticket.opened": "A complaint ticket was opened. ticket_id, customer_id.",
    "points.expiring": "A member was reminded of points about to expire. customer_id, items.",
    "survey.response_completed": (
        "A survey was answered (once per invitation). response_id, survey_id, customer_id (or "
        "null), score_group (promoter|passive|detractor or empty), nps_score (or null)."
    ),
    "survey.invited": "Survey invitations were sent by e-mail. invitation_ids.",
    "ticket.resolved": "A complaint ticket was resolved. ticket_id, customer_id (or null).",
}


class UnknownEvent(ImproperlyConfigured):
    pass


@dataclass(frozen=True)
class Event:
    id: str
    name: str
    payload: dict[str, Any]
    at: dt.datetime | None = None


Handler = Callable[[Event], Any]


@dataclass(frozen=True)
class Subscription:
    event: str
    handler: Handler
    when: When
    # After-commit only: ``wanted(name)`` says whether this subscriber has anything to do with
    # the event now (webhooks: some endpoint subscribes to it). An event no after-commit
    # subscriber wants costs no outbox row and no task. None: always wanted.
    wanted: Callable[[str], bool] | None = None

    def wants(self, name: str) -> bool:
        return self.wanted is None or self.wanted(name)

    @property
    def name(self) -> str:
        return f"{self.handler.__module__}.{self.handler.__qualname__}"


@dataclass
class _Registry:
    subscriptions: dict[str, list[Subscription]] = field(default_factory=dict)
    late_wiring_allowed: bool = False


_registry = _Registry()


def wiring_only(what: str) -> None:
    """Refuse to register ``what`` anywhere but in ``AppConfig.ready()``: while Django's app
    registry runs the ``ready()`` methods its models are loaded but it is not ready yet."""
    if _registry.late_wiring_allowed:
        return
    if not django_apps.models_ready or django_apps.ready:
        raise ImproperlyConfigured(f"Register {what} in AppConfig.ready(), not at import time.")


def subscribe(
    name: str, handler: Handler, *, when: When, wanted: Callable[[str], bool] | None = None
) -> None:
    """Call ``handler(event)`` whenever ``name`` is published (registering twice is a no-op);
    an after-commit subscriber may pass ``wanted`` (see ``Subscription``). ``wanted`` must be
    cheap (no query in the steady state): it runs in the publisher's transaction."""
    if name not in EVENTS:
        raise UnknownEvent(f"Unknown event {name!r}; add it to apps.core.events.EVENTS.")
    if when not in ("in_transaction", "after_commit"):
        raise ValueError(f"when must be 'in_transaction' or 'after_commit', not {when!r}")
    if wanted is not None and when != "after_commit":
        raise ValueError("wanted applies to after-commit subscribers only")
    wiring_only(f"the subscriber {handler.__qualname__}")
    subscription = Subscription(event=name, handler=handler, when=when, wanted=wanted)
    existing = _registry.subscriptions.setdefault(name, [])
    if subscription not in existing:
        existing.append(subscription)


def subscribers(name: str, when: When | None = None) -> list[Subscription]:
    return [s for s in _registry.subscriptions.get(name, []) if when is None or s.when == when]


def _outbox_wanted(name: str) -> bool:
    """Whether some after-commit subscriber wants ``name`` now (so it goes to the outbox)."""
    return any(s.wants(name) for s in subscribers(name, "after_commit"))


def _plain(value: Any, path: str) -> Any:
    """The payload value as JSON, or TypeError for anything that is not an id or plain value."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, list | tuple):
        return [_plain(v, f"{path}[]") for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v, f"{path}.{k}") for k, v in value.items()}
    if isinstance(value, models.Model):
        raise TypeError(f"Event payload {path} is a model instance; publish its id instead.")
    raise TypeError(f"Event payload {path} is a {type(value).__name__}, not a plain value.")


def publish(name: str, **payload: Any) -> Event:
    """Tell the subscribers of ``name``; see the module docstring. Must run inside the
    publisher's transaction, so that the outbox row commits or rolls back with its writes."""
    if name not in EVENTS:
        raise UnknownEvent(f"Unknown event {name!r}; add it to apps.core.events.EVENTS.")
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError(f"Publish {name!r} inside the service's transaction.")
    event = Event(id=str(uuid.uuid4()), name=name, payload=_plain(payload, "payload"))
    for subscription in subscribers(name, "in_transaction"):
        subscription.handler(event)
    if _outbox_wanted(name):
        OutboxEvent.objects.create(id=event.id, name=name, payload=event.payload)
        transaction.on_commit(lambda: outbox_deliver.delay(event.id))
    return event


def publish_many(name: str, payloads: list[dict[str, Any]]) -> list[Event]:
    """``publish`` for many events of one name at once (a bulk job's chunk): in-transaction
    subscribers are called event by event, in order; the outbox rows are written with one
    insert and their deliveries queued by one on-commit hook."""
    if name not in EVENTS:
        raise UnknownEvent(f"Unknown event {name!r}; add it to apps.core.events.EVENTS.")
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError(f"Publish {name!r} inside the service's transaction.")
    published = [
        Event(id=str(uuid.uuid4()), name=name, payload=_plain(payload, "payload"))
        for payload in payloads
    ]
    for event in published:
        for subscription in subscribers(name, "in_transaction"):
            subscription.handler(event)
    if published and _outbox_wanted(name):
        _outbox_insert(name, published)
        ids = [e.id for e in published]
        transaction.on_commit(lambda: [outbox_deliver.delay(event_id) for event_id in ids])
    return published


def _outbox_insert(name: str, published: list[Event]) -> None:
    """The outbox rows of many events in one statement (``INSERT … SELECT … FROM unnest`` on
    PostgreSQL, ``bulk_create`` elsewhere)."""
    if connection.vendor != "postgresql":
        OutboxEvent.objects.bulk_create(
            [OutboxEvent(id=e.id, name=name, payload=e.payload) for e in published]
        )
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO core_outboxevent (id, name, payload, created_at, done, attempts, "
            "last_error) SELECT id, %s, payload, %s, '[]'::jsonb, 0, '' "
            "FROM unnest(%s::uuid[], %s::jsonb[]) AS t(id, payload)",
            [
                name,
                timezone.now(),
                [e.id for e in published],
                [Jsonb(e.payload) for e in published],
            ],
        )


# --- the outbox -------------------------------------------------------------------------------

OUTBOX_MAX_ERROR = 2000
OUTBOX_SWEEP_BATCH = 1000
OUTBOX_KEEP_DAYS = 30


def outbox_event_deliver(*, event_id: str) -> bool:
    """Deliver one outbox event to each of its after-commit subscribers that has not had it
    yet, each in its own transaction with the event row locked (two deliveries of the same
    event never run a subscriber at the same time). Returns True once every subscriber has
    it. A failing subscriber's writes roll back; the failure is recorded on the event and
    re-raised for the task to retry."""
    row = OutboxEvent.objects.filter(pk=event_id, delivered_at__isnull=True).first()
    if row is None:
        return True
    for subscription in subscribers(row.name, "after_commit"):
        _deliver_one(event_id=row.pk, subscription=subscription)
    OutboxEvent.objects.filter(pk=row.pk).update(delivered_at=timezone.now(), last_error="")
    return True


def _deliver_one(*, event_id: Any, subscription: Subscription) -> None:
    failure: Exception | None = None
    with transaction.atomic():
        locked = OutboxEvent.objects.select_for_update().get(pk=event_id)
        if subscription.name in locked.done:
            return
        event = Event(
            id=str(locked.pk), name=locked.name, payload=locked.payload, at=locked.created_at
        )
        try:
            with transaction.atomic():
                subscription.handler(event)
        except Exception as exc:  # recorded, then re-raised below for the task's retry
            failure = exc
            locked.attempts += 1
            locked.last_error = f"{subscription.name}: {exc!r}"[:OUTBOX_MAX_ERROR]
            locked.save(update_fields=["attempts", "last_error"])
        else:
            locked.done = [*locked.done, subscription.name]
            locked.save(update_fields=["done"])
    if failure is not None:
        raise failure


def outbox_pending(*, older_than: dt.timedelta) -> list[str]:
    """Ids of undelivered events older than ``older_than`` (their task was lost or failed)."""
    cutoff = timezone.now() - older_than
    return [
        str(pk)
        for pk in OutboxEvent.objects.filter(delivered_at__isnull=True, created_at__lt=cutoff)
        .order_by("created_at")
        .values_list("pk", flat=True)[:OUTBOX_SWEEP_BATCH]
    ]


def outbox_purge(*, days: int = OUTBOX_KEEP_DAYS) -> int:
    """Delete delivered events older than ``days``; undelivered ones stay until delivered."""
    cutoff = timezone.now() - dt.timedelta(days=days)
    deleted, _ = OutboxEvent.objects.filter(delivered_at__lt=cutoff).delete()
    return deleted


@shared_task(
    name="core.outbox_deliver",
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(Exception,),
    retry_backoff=True,
    retry_backoff_max=600,
    max_retries=10,
)
def outbox_deliver(event_id: str) -> bool:
    """Queued on commit by ``publish``; safe to run twice (see ``outbox_event_deliver``)."""
    return outbox_event_deliver(event_id=event_id)


class late_wiring:
    """For tests only: allow ``subscribe`` and provider registration outside ``ready()``, and
    put the registry back as it was afterwards."""

    def __enter__(self) -> late_wiring:
        self._saved = {k: list(v) for k, v in _registry.subscriptions.items()}
        self._allowed = _registry.late_wiring_allowed
        _registry.late_wiring_allowed = True
        return self

    def __exit__(self, *exc: object) -> None:
        _registry.subscriptions = self._saved
        _registry.late_wiring_allowed = self._allowed


@shared_task(name="core.outbox_sweep", acks_late=True)
def outbox_sweep() -> int:
    """Every few minutes (beat): queue again the events whose delivery was lost or failed,
    and purge old delivered ones. Returns the number queued."""
    pending = outbox_pending(older_than=dt.timedelta(minutes=2))
    for event_id in pending:
        outbox_deliver.delay(event_id)
    outbox_purge()
    return len(pending)
