"""Reads for the webhook pages and jobs."""

from __future__ import annotations

from django.core.cache import cache
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from .enums import OPEN_STATUSES, DeliveryStatus
from .models import Delivery, Endpoint


def endpoint_list() -> QuerySet[Endpoint]:
    return Endpoint.objects.order_by("-active", "pk")


def endpoint_get(*, pk: int) -> Endpoint | None:
    return Endpoint.objects.filter(pk=pk).first()


def endpoints_disabled_automatically() -> list[Endpoint]:
    """Endpoints the sender switched off after repeated failures (the pages warn about them)."""
    return list(Endpoint.objects.filter(active=False, disabled_at__isnull=False).order_by("pk"))


def endpoints_for_event(name: str) -> list[Endpoint]:
    """Active endpoints subscribed to ``name``. Endpoints are few: the subscription list is
    filtered here rather than in SQL, the same on PostgreSQL and SQLite."""
    return [e for e in Endpoint.objects.filter(active=True).order_by("pk") if name in e.event_types]


# The event names some active endpoint subscribes to, shared by every process through the cache:
# publishing an event nobody subscribes to then costs no outbox row (``events.subscribe``'s
# ``wanted``). Every write that changes what endpoints listen to (the services and the sender's
# automatic disable) calls ``subscriptions_changed``; the timeout bounds what a race between a
# reader and a change could leave behind.
SUBSCRIBED_CACHE_KEY = "integrations:subscribed-events"
SUBSCRIBED_CACHE_SECONDS = 60


def event_names_subscribed() -> frozenset[str]:
    names = cache.get(SUBSCRIBED_CACHE_KEY)
    if names is None:
        names = sorted(
            {
                name
                for event_types in Endpoint.objects.filter(active=True).values_list(
                    "event_types", flat=True
                )
                for name in event_types
            }
        )
        cache.set(SUBSCRIBED_CACHE_KEY, names, SUBSCRIBED_CACHE_SECONDS)
    return frozenset(names)


def event_wanted(name: str) -> bool:
    """``wanted`` of the webhook subscriber: some active endpoint subscribes to ``name``."""
    return name in event_names_subscribed()


def event_names_forget() -> None:
    cache.delete(SUBSCRIBED_CACHE_KEY)


def subscriptions_changed() -> None:
    """Called by a write that changes an endpoint's events or whether it is active: the cached
    list is forgotten now and again once the write commits (a reader in between may have cached
    the old list from before the commit)."""
    event_names_forget()
    transaction.on_commit(event_names_forget)


def delivery_list(*, endpoint: Endpoint, status: str = "") -> QuerySet[Delivery]:
    deliveries = Delivery.objects.filter(endpoint=endpoint)
    if status in DeliveryStatus.values:
        deliveries = deliveries.filter(status=status)
    return deliveries.order_by("-created_at", "-pk").defer("payload", "response_snippet")


def delivery_get(*, endpoint: Endpoint, pk) -> Delivery | None:
    return Delivery.objects.filter(endpoint=endpoint, pk=pk).select_related("replayed_by").first()


def deliveries_due(*, limit: int) -> list[str]:
    """Ids of open deliveries whose next attempt is due, at active endpoints, oldest first."""
    return [
        str(pk)
        for pk in Delivery.objects.filter(
            status__in=OPEN_STATUSES,
            next_attempt_at__lte=timezone.now(),
            endpoint__active=True,
        )
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    ]
