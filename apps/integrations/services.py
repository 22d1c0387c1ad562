"""Writes: endpoints (create, change, secret, enable, delete), the outbox subscriber that turns
a domain event into deliveries, the test event and the replay. Every staff change is audited
(invariant 8); the secret itself never goes into the audit trail."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.accounts.models import User
from apps.core.events import Event
from apps.core.exceptions import ValidationFailed
from apps.core.services import audit_record

from .catalogue import BUILDERS, TEST_EVENT, WEBHOOK_EVENTS
from .enums import OPEN_STATUSES, DeliveryStatus
from .exceptions import NotReplayable
from .models import Delivery, Endpoint
from .selectors import endpoints_for_event, subscriptions_changed
from .sending import send_queue
from .signing import secret_generate
from .transport import endpoint_url_validate

log = logging.getLogger(__name__)

DESCRIPTION_MAX = 200


def _clean(*, url: str, description: str, event_types: list[str]) -> tuple[str, str, list[str]]:
    url = endpoint_url_validate(url)
    if len(url) > 500:
        raise ValidationFailed(_("The URL is longer than 500 characters."), field="url")
    unknown = sorted(set(event_types) - WEBHOOK_EVENTS.keys())
    if unknown:
        raise ValidationFailed(
            _("Unknown events: %(names)s.") % {"names": ", ".join(unknown)}, field="event_types"
        )
    if not event_types:
        raise ValidationFailed(_("Choose at least one event."), field="event_types")
    ordered = [name for name in WEBHOOK_EVENTS if name in set(event_types)]
    return url, description.strip()[:DESCRIPTION_MAX], ordered


def _snapshot(endpoint: Endpoint) -> dict[str, Any]:
    return {
        "url": endpoint.url,
        "description": endpoint.description,
        "event_types": list(endpoint.event_types),
        "active": endpoint.active,
    }


@transaction.atomic
def endpoint_create(
    *, url: str, description: str = "", event_types: list[str], actor: User | None
) -> tuple[Endpoint, str]:
    """A new active endpoint with a generated signing secret. Returns (endpoint, secret); the
    URL must pass ``transport.endpoint_url_validate`` (https, public address)."""
    url, description, event_types = _clean(
        url=url, description=description, event_types=event_types
    )
    endpoint = Endpoint.objects.create(
        url=url,
        description=description,
        event_types=event_types,
        secret=secret_generate(),
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    subscriptions_changed()
    audit_record(
        actor=actor,
        action="webhook.endpoint_create",
        target=endpoint,
        summary=url,
        after=_snapshot(endpoint),
    )
    return endpoint, endpoint.secret


@transaction.atomic
def endpoint_update(
    *,
    endpoint: Endpoint,
    url: str,
    description: str,
    event_types: list[str],
    actor: User | None,
) -> Endpoint:
    """Change an endpoint's address, description and events. Deliveries already made keep
    going to the endpoint's current URL."""
    endpoint = Endpoint.objects.select_for_update().get(pk=endpoint.pk)
    before = _snapshot(endpoint)
    endpoint.url, endpoint.description, endpoint.event_types = _clean(
        url=url, description=description, event_types=event_types
    )
    endpoint.save(update_fields=["url", "description", "event_types", "updated_at"])
    subscriptions_changed()
    after = _snapshot(endpoint)
    if after != before:
        audit_record(
            actor=actor,
            action="webhook.endpoint_update",
            target=endpoint,
            summary=endpoint.url,
            before=before,
            after=after,
        )
    return endpoint


@transaction.atomic
def endpoint_secret_rotate(*, endpoint: Endpoint, actor: User | None) -> str:
    """A new signing secret, in force for the next attempt; the old one stops working at once
    (the receiver gets the new one before rotating, see docs/integrations.md)."""
    endpoint = Endpoint.objects.select_for_update().get(pk=endpoint.pk)
    endpoint.secret = secret_generate()
    endpoint.secret_rotated_at = timezone.now()
    endpoint.save(update_fields=["secret", "secret_rotated_at", "updated_at"])
    audit_record(actor=actor, action="webhook.secret_rotate", target=endpoint, summary=endpoint.url)
    return endpoint.secret


@transaction.atomic
def endpoint_secret_reveal(*, endpoint: Endpoint, actor: User) -> str:
    """The signing secret, for an Administrator who asked to see it; the look is audited."""
    audit_record(actor=actor, action="webhook.secret_reveal", target=endpoint, summary=endpoint.url)
    return endpoint.secret


@transaction.atomic
def endpoint_enable(*, endpoint: Endpoint, actor: User | None) -> Endpoint:
    """Switch an endpoint on again (after an automatic or manual disable): its failure streak
    starts from zero and its open deliveries are tried at once."""
    endpoint = Endpoint.objects.select_for_update().get(pk=endpoint.pk)
    if endpoint.active:
        return endpoint
    before = {"active": False, "reason": endpoint.disabled_reason}
    endpoint.active = True
    endpoint.consecutive_failures = 0
    endpoint.failing_since = None
    endpoint.disabled_at = None
    endpoint.disabled_reason = ""
    endpoint.save(
        update_fields=[
            "active",
            "consecutive_failures",
            "failing_since",
            "disabled_at",
            "disabled_reason",
            "updated_at",
        ]
    )
    subscriptions_changed()
    now = timezone.now()
    waiting = Delivery.objects.filter(endpoint=endpoint, status__in=OPEN_STATUSES)
    waiting.update(next_attempt_at=now)
    send_queue(waiting.values_list("pk", flat=True))
    audit_record(
        actor=actor,
        action="webhook.endpoint_enable",
        target=endpoint,
        summary=endpoint.url,
        before=before,
        after={"active": True},
    )
    return endpoint


@transaction.atomic
def endpoint_disable(*, endpoint: Endpoint, actor: User | None) -> Endpoint:
    """Pause an endpoint by hand: no new deliveries are made for it and open ones wait."""
    endpoint = Endpoint.objects.select_for_update().get(pk=endpoint.pk)
    if not endpoint.active:
        return endpoint
    endpoint.active = False
    endpoint.disabled_at = None  # paused by hand, not switched off by the sender
    endpoint.disabled_reason = ""
    endpoint.save(update_fields=["active", "disabled_at", "disabled_reason", "updated_at"])
    subscriptions_changed()
    audit_record(
        actor=actor,
        action="webhook.endpoint_disable",
        target=endpoint,
        summary=endpoint.url,
        before={"active": True},
        after={"active": False},
    )
    return endpoint


@transaction.atomic
def endpoint_delete(*, endpoint: Endpoint, actor: User | None) -> None:
    """Remove an endpoint with its delivery log."""
    audit_record(
        actor=actor,
        action="webhook.endpoint_delete",
        target=endpoint,
        summary=endpoint.url,
        before=_snapshot(endpoint),
    )
    endpoint.delete()
    subscriptions_changed()


def envelope(*, event_id: str, name: str, at, data: dict[str, Any]) -> dict[str, Any]:
    """The body every delivery posts (docs/integrations.md)."""
    return {
        "id": str(event_id),
        "type": name,
        "created_at": (at or timezone.now()).isoformat(),
        "data": data,
    }


def on_event(event: Event) -> int:
    """After-commit subscriber of every event in ``WEBHOOK_EVENTS``: one delivery per active
    endpoint subscribed to it, idempotent by event id (a unique key on (endpoint, event)), and
    an attempt queued for each after commit. Returns the number of new deliveries."""
    endpoints = endpoints_for_event(event.name)
    if not endpoints:
        return 0
    try:
        data = BUILDERS[event.name](event.payload)
    except ObjectDoesNotExist:
        # The row is gone (a rolled-back import's re-run, a purge): nothing true left to tell.
        log.warning("webhook: %s %s names a row that no longer exists", event.name, event.id)
        return 0
    body = envelope(event_id=event.id, name=event.name, at=event.at, data=data)
    now = timezone.now()
    with transaction.atomic():
        Delivery.objects.bulk_create(
            [
                Delivery(
                    endpoint=endpoint,
                    event_id=event.id,
                    event_name=event.name,
                    payload=body,
                    next_attempt_at=now,
                )
                for endpoint in endpoints
            ],
            ignore_conflicts=True,
        )
        new = list(
            Delivery.objects.filter(
                event_id=event.id, status=DeliveryStatus.PENDING, attempts=0
            ).values_list("pk", flat=True)
        )
        send_queue(new)
    return len(new)


@transaction.atomic
def endpoint_test_send(*, endpoint: Endpoint, actor: User | None) -> Delivery:
    """A ``webhook.test`` delivery to this endpoint, tried once at once (also while the endpoint
    is disabled: it is how one checks a receiver is back)."""
    event_id = str(uuid.uuid4())
    delivery = Delivery.objects.create(
        endpoint=endpoint,
        event_id=event_id,
        event_name=TEST_EVENT,
        payload=envelope(
            event_id=event_id,
            name=TEST_EVENT,
            at=timezone.now(),
            data={"message": "Test event from Clientele"},
        ),
        next_attempt_at=timezone.now(),
    )
    audit_record(actor=actor, action="webhook.test_send", target=endpoint, summary=endpoint.url)
    send_queue([delivery.pk])
    return delivery


@transaction.atomic
def delivery_replay(*, delivery: Delivery, actor: User | None) -> Delivery:
    """Send a failed delivery again, with a fresh round of attempts and the same body (the
    receiver recognises it by its ``Clientele-Delivery`` id). Refused for any other status and
    while the endpoint is disabled (enabling it retries what is still open)."""
    delivery = Delivery.objects.select_for_update().select_related("endpoint").get(pk=delivery.pk)
    if delivery.status != DeliveryStatus.FAILED:
        raise NotReplayable()
    if not delivery.endpoint.active and delivery.event_name != TEST_EVENT:
        raise NotReplayable(_("Enable the endpoint before sending its deliveries again."))
    now = timezone.now()
    delivery.status = DeliveryStatus.PENDING
    delivery.round_attempts = 0
    delivery.next_attempt_at = now
    delivery.replayed_at = now
    delivery.replayed_by = actor if getattr(actor, "pk", None) else None
    delivery.save(
        update_fields=["status", "round_attempts", "next_attempt_at", "replayed_at", "replayed_by"]
    )
    audit_record(
        actor=actor,
        action="webhook.delivery_replay",
        target=delivery.endpoint,
        summary=f"{delivery.event_name} {delivery.pk}",
    )
    send_queue([delivery.pk])
    return delivery
