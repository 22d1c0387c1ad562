"""Compensation from a ticket: points (a ``compensate`` ledger row), a single-use amount-off
coupon, or the note of a refund made elsewhere. Worth more than the agent limit
(``ComplaintSettings.compensation_limit``, in ¥; points valued at the programme's point value),
it waits for a manager other than the requester (four eyes, as points adjustments do).

Exactly once: the compensation row is locked and must still be pending to be decided, and the
ledger key ``compensation:<id>`` makes a repeated award a no-op. Every request and decision is
audited (invariant 8)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.accounts.models import User
from apps.core.exceptions import ValidationFailed
from apps.core.services import audit_record
from apps.core.text import text_check
from apps.loyalty.enums import CouponKind, TxKind
from apps.loyalty.models import Programme
from apps.loyalty.services.bonuses import bonus_award
from apps.loyalty.services.coupons import coupon_issue

from ..enums import CompensationKind, CompensationStatus, EventKind
from ..exceptions import AlreadyDecided, CompensationRefused, NotAllowed
from ..history import event_add
from ..locks import lock_ticket
from ..models import Compensation, ComplaintSettings, Ticket

MAX_POINTS = 1_000_000
MAX_AMOUNT = Decimal("100000")
COUPON_DAYS = 90


def compensation_value(*, kind: str, points: int, amount: Decimal) -> Decimal:
    """What it costs the business, in ¥."""
    if kind == CompensationKind.POINTS:
        return (Decimal(points) * Programme.get().point_value).quantize(Decimal("0.01"))
    return Decimal(amount).quantize(Decimal("0.01"))


def _check(kind: str, points: int, amount: Decimal, reason: str) -> str:
    if kind not in CompensationKind.values:
        raise ValidationFailed(_("Unknown kind of compensation."), field="kind")
    if kind == CompensationKind.POINTS and not 0 < points <= MAX_POINTS:
        raise ValidationFailed(
            _("Give between 1 and %(n)s points.") % {"n": f"{MAX_POINTS:,}"}, field="points"
        )
    if kind != CompensationKind.POINTS and not Decimal(0) < amount <= MAX_AMOUNT:
        raise ValidationFailed(
            _("The amount must be more than ¥0 and at most ¥%(n)s.") % {"n": f"{MAX_AMOUNT:,}"},
            field="amount",
        )
    reason = reason.strip()
    if not reason:
        raise ValidationFailed(_("Say why the member is compensated."), field="reason")
    text_check(reason=reason)
    return reason[:300]


def _issue(*, compensation: Compensation, ticket: Ticket, actor: User, now: dt.datetime) -> None:
    customer = ticket.customer
    if compensation.kind == CompensationKind.POINTS:
        compensation.transaction = bonus_award(
            customer=customer,
            points=compensation.points,
            key=f"compensation:{compensation.pk}",
            reason=compensation.reason,
            at=now,
            kind=TxKind.COMPENSATE,
            actor=actor,
            source_ref=ticket.reference,
        )
        if compensation.transaction is None:
            raise CompensationRefused()
    elif compensation.kind == CompensationKind.COUPON:
        compensation.coupon = coupon_issue(
            owner=customer,
            kind=CouponKind.FIXED,
            value=compensation.amount,
            valid_days=COUPON_DAYS,
            source_ref=f"ticket:{ticket.reference}",
            at=now,
        )
    compensation.status = CompensationStatus.ISSUED
    compensation.decided_at = now
    compensation.decided_by = actor
    compensation.save()


def _audit(compensation: Compensation, ticket: Ticket, actor: User, action: str) -> None:
    audit_record(
        actor=actor,
        action=f"complaints.compensation_{action}",
        target=compensation,
        summary=f"{ticket.reference}: {compensation.get_kind_display()} ¥{compensation.value}",
        after={
            "ticket": ticket.reference,
            "kind": compensation.kind,
            "points": compensation.points,
            "amount": str(compensation.amount),
            "value": str(compensation.value),
            "status": compensation.status,
        },
    )


@transaction.atomic
def compensation_request(
    *,
    ticket: Ticket,
    actor: User,
    kind: str,
    reason: str,
    points: int = 0,
    amount: Decimal | int | str = 0,
    at: dt.datetime | None = None,
) -> Compensation:
    """Request compensation; issued at once within the limit (or when the actor may approve),
    else pending a manager's decision."""
    if not actor.has_perm("complaints.work_ticket"):
        raise NotAllowed()
    amount = Decimal(str(amount or 0))
    points = int(points or 0)
    reason = _check(kind, points, amount, reason)
    now = at or timezone.now()
    locked = lock_ticket(ticket_id=ticket.pk)
    if locked.customer.anonymized_at is not None:
        raise CompensationRefused(_("This member's record is closed."))
    value = compensation_value(kind=kind, points=points, amount=amount)
    compensation = Compensation.objects.create(
        ticket=locked,
        kind=kind,
        points=points if kind == CompensationKind.POINTS else 0,
        amount=amount if kind != CompensationKind.POINTS else 0,
        value=value,
        reason=reason,
        requested_by=actor,
        requested_at=now,
    )
    limit = ComplaintSettings.get().compensation_limit
    if value <= limit or actor.has_perm("complaints.approve_compensation"):
        _issue(compensation=compensation, ticket=locked, actor=actor, now=now)
    _audit(compensation, locked, actor, "requested")
    event_add(
        ticket=locked,
        kind=EventKind.COMPENSATION,
        at=now,
        actor=actor,
        compensation=compensation.pk,
        status=compensation.status,
        value=str(value),
    )
    return compensation


@transaction.atomic
def compensation_decide(
    *, compensation: Compensation, actor: User, approve: bool, at: dt.datetime | None = None
) -> Compensation:
    """A manager approves (issues) or rejects a pending compensation, once: under concurrent
    decisions one wins and the others get ``AlreadyDecided``."""
    if not actor.has_perm("complaints.approve_compensation"):
        raise NotAllowed()
    now = at or timezone.now()
    ticket = lock_ticket(ticket_id=compensation.ticket_id)
    locked = Compensation.objects.select_for_update().get(pk=compensation.pk)
    if locked.status != CompensationStatus.PENDING:
        raise AlreadyDecided()
    if locked.requested_by_id == actor.pk:
        raise NotAllowed(_("Someone other than the requester must decide."))
    if approve:
        _issue(compensation=locked, ticket=ticket, actor=actor, now=now)
    else:
        locked.status = CompensationStatus.REJECTED
        locked.decided_by, locked.decided_at = actor, now
        locked.save(update_fields=["status", "decided_by", "decided_at"])
    _audit(locked, ticket, actor, "approved" if approve else "rejected")
    event_add(
        ticket=ticket,
        kind=EventKind.COMPENSATION,
        at=now,
        actor=actor,
        compensation=locked.pk,
        status=locked.status,
        value=str(locked.value),
    )
    return locked
