"""The events an endpoint may subscribe to, their labels, and the payload each one carries.

A payload names things by their public identifiers, the ones the REST API uses: the member
number (never a name, e-mail address or phone number), an order's external id with its store
code, a reward's or tier's or survey's code, a ticket's reference. The one database id is a
redemption's, which the REST API returns as its id too. Each builder reads the rows once,
when the delivery is created: a replay sends the same data.

Bulk paths do not publish: orders earned through an import (``import_orders``) send no
``order.earned`` and consents written by a customer import send no ``consent.changed``; a
receiver that needs them reconciles from the same files or the REST API.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from apps.complaints.models import Ticket
from apps.customers.models import Customer, Order, Refund
from apps.loyalty import ledger
from apps.loyalty.models import Redemption, Tier
from apps.surveys.models import Response

TEST_EVENT = "webhook.test"

# Event name -> label shown to Administrators (the checkboxes of the endpoint form).
WEBHOOK_EVENTS: dict[str, Any] = {
    "order.earned": _("Order earned points"),
    "refund.clawed_back": _("Refund took points back"),
    "tier.changed": _("Tier changed"),
    "redemption.created": _("Reward redeemed"),
    "redemption.fulfilled": _("Redemption fulfilled"),
    "ticket.opened": _("Complaint ticket opened"),
    "ticket.resolved": _("Complaint ticket resolved"),
    "survey.response_completed": _("Survey answered"),
    "consent.changed": _("Consent changed"),
    "customer.erased": _("Customer erased"),
}


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def _member_number(customer_id: int | None) -> str | None:
    if customer_id is None:
        return None
    return Customer.objects.filter(pk=customer_id).values_list("member_number", flat=True).first()


def _order_ref(order: Order) -> dict[str, Any]:
    return {"external_id": order.external_id, "store": order.store.code}


def order_earned(payload: dict) -> dict[str, Any]:
    order = Order.objects.select_related("store", "customer").get(pk=payload["order_id"])
    tx = ledger.tx_exists(f"order:{order.pk}:earn")
    return {
        "member_number": order.customer.member_number if order.customer else None,
        "order": {
            **_order_ref(order),
            "placed_at": _iso(order.placed_at),
            "total": str(order.total),
            "currency": settings.CURRENCY,
        },
        "points_earned": tx.points if tx else 0,
        "points_pending": tx.pending_points if tx else 0,
    }


def refund_clawed_back(payload: dict) -> dict[str, Any]:
    refund = Refund.objects.select_related("order__store").get(pk=payload["refund_id"])
    return {
        "member_number": _member_number(payload.get("customer_id")),
        "order": _order_ref(refund.order),
        "refund": {
            "refund_id": refund.refund_id,
            "amount": str(refund.amount),
            "currency": settings.CURRENCY,
            "at": _iso(refund.at),
        },
        "points_reversed": payload.get("points", 0),
        "points_owed": payload.get("owed", 0),
        "points_already_expired": payload.get("expired", 0),
    }


def tier_changed(payload: dict) -> dict[str, Any]:
    ids = [i for i in (payload.get("old_tier_id"), payload.get("new_tier_id")) if i is not None]
    slugs = dict(Tier.objects.filter(pk__in=ids).values_list("pk", "slug"))
    return {
        "member_number": _member_number(payload.get("customer_id")),
        "old_tier": slugs.get(payload.get("old_tier_id")),
        "new_tier": slugs.get(payload.get("new_tier_id")),
        "direction": payload.get("direction"),
    }


def redemption(payload: dict) -> dict[str, Any]:
    # The voucher code is a bearer credential and the delivery address personal data: neither
    # leaves; the receiver asks the API about a redemption it needs to honour.
    row = Redemption.objects.select_related("reward", "account__customer", "pickup_store").get(
        pk=payload["redemption_id"]
    )
    return {
        "member_number": row.account.customer.member_number,
        "redemption": {
            "id": row.pk,
            "reward": row.reward.slug,
            "quantity": row.quantity,
            "points_spent": row.points,
            "status": row.status,
            "channel": row.channel,
            "pickup_store": row.pickup_store.code if row.pickup_store else None,
            "fulfilled_at": _iso(row.fulfilled_at),
        },
    }


def ticket(payload: dict) -> dict[str, Any]:
    row = Ticket.objects.select_related("customer", "category", "order__store").get(
        pk=payload["ticket_id"]
    )
    return {
        "member_number": row.customer.member_number if row.customer else None,
        "ticket": {
            "reference": row.reference,
            "status": row.status,
            "channel": row.channel,
            "category": row.category.code,
            "priority": row.priority,
            "order": _order_ref(row.order) if row.order else None,
            "opened_at": _iso(row.created_at),
            "resolved_at": _iso(row.resolved_at),
        },
    }


def survey_answered(payload: dict) -> dict[str, Any]:
    row = Response.objects.select_related("survey", "customer").get(pk=payload["response_id"])
    return {
        # An anonymous survey's response names nobody.
        "member_number": row.customer.member_number if row.customer else None,
        "survey": row.survey.slug,
        "submitted_at": _iso(row.submitted_at),
        "score_group": payload.get("score_group") or None,
        "nps_score": payload.get("nps_score"),
    }


def consent_changed(payload: dict) -> dict[str, Any]:
    return {
        "member_number": _member_number(payload.get("customer_id")),
        "channel": payload.get("channel"),
        "purpose": payload.get("purpose"),
        "granted": payload.get("granted"),
        "source": payload.get("source"),
    }


def customer_erased(payload: dict) -> dict[str, Any]:
    # The member number is kept on an erased record (the ledger keeps it); nothing else is left.
    return {"member_number": _member_number(payload.get("customer_id"))}


BUILDERS: dict[str, Callable[[dict], dict[str, Any]]] = {
    "order.earned": order_earned,
    "refund.clawed_back": refund_clawed_back,
    "tier.changed": tier_changed,
    "redemption.created": redemption,
    "redemption.fulfilled": redemption,
    "ticket.opened": ticket,
    "ticket.resolved": ticket,
    "survey.response_completed": survey_answered,
    "consent.changed": consent_changed,
    "customer.erased": customer_erased,
}
assert BUILDERS.keys() == WEBHOOK_EVENTS.keys()


def event_label(name: str) -> str:
    if name == TEST_EVENT:
        return str(_("Test event"))
    return str(WEBHOOK_EVENTS.get(name, name))
