"""Staff adjustments of points. Within the programme's limit they apply at once; above it they
wait for a manager (someone with ``loyalty.approve_adjustment`` other than the requester).
Every request and decision is audited (invariant 8)."""

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.accounts.models import User
from apps.core.exceptions import ValidationFailed
from apps.core.services import audit_record
from apps.core.text import text_check
from apps.customers.models import Customer

from .. import ledger
from ..enums import AdjustmentStatus, TxKind
from ..exceptions import AdjustmentNotAllowed, InsufficientPoints
from ..locks import lock_account
from ..models import LoyaltyAccount, PointsAdjustment, PointsTransaction, Programme


def _apply(
    *, account: LoyaltyAccount, adjustment: PointsAdjustment, actor: User, kind: str = TxKind.ADJUST
) -> PointsTransaction:
    key = f"adjustment:{adjustment.pk}"
    if adjustment.points > 0:
        programme = Programme.get()
        now = timezone.now()
        lot = ledger.lot_create(
            account=account,
            points=adjustment.points,
            earned_at=now,
            available_at=now,
            programme=programme,
        )
        tx = ledger.append(
            account=account,
            kind=kind,
            key=key,
            points=adjustment.points,
            reason=adjustment.reason,
            lot=lot,
            actor=actor,
        )
    else:
        needed = -adjustment.points
        if account.balance < needed:
            raise InsufficientPoints(
                _("The member has only %(n)s points.") % {"n": account.balance}
            )
        tx = ledger.append(
            account=account,
            kind=kind,
            key=key,
            points=adjustment.points,
            reason=adjustment.reason,
            actor=actor,
        )
        ledger.spend_lots(account=account, points=needed, tx=tx)
    adjustment.transaction = tx
    return tx


@transaction.atomic
def points_adjust(*, customer: Customer, points: int, reason: str, actor: User) -> PointsAdjustment:
    """Request an adjustment; applied at once when within the limit (or the actor may approve)."""
    if not actor.has_perm("loyalty.adjust_points"):
        raise AdjustmentNotAllowed()
    if points == 0:
        raise ValidationFailed(_("An adjustment needs a non-zero number of points."))
    if not reason.strip():
        raise ValidationFailed(_("An adjustment needs a reason."))
    text_check(reason=reason)
    account = lock_account(customer_id=customer.pk)
    limit = Programme.get().adjustment_limit
    immediate = abs(points) <= limit or actor.has_perm("loyalty.approve_adjustment")
    adjustment = PointsAdjustment.objects.create(
        account=account,
        points=points,
        reason=reason.strip(),
        requested_by=actor,
        status=AdjustmentStatus.APPROVED if immediate else AdjustmentStatus.PENDING,
        decided_by=actor if immediate else None,
        decided_at=timezone.now() if immediate else None,
    )
    if immediate:
        _apply(account=account, adjustment=adjustment, actor=actor)
        adjustment.save(update_fields=["transaction"])
    audit_record(
        actor=actor,
        action="points.adjust" if immediate else "points.adjust_requested",
        target=account,
        summary=f"{points:+d} {reason}"[:300],
        before={"balance": account.balance - (points if immediate else 0)},
        after={"balance": account.balance, "status": adjustment.status},
    )
    return adjustment


@transaction.atomic
def adjustment_decide(
    *, adjustment: PointsAdjustment, approve: bool, actor: User
) -> PointsAdjustment:
    if not actor.has_perm("loyalty.approve_adjustment"):
        raise AdjustmentNotAllowed()
    account = lock_account(customer_id=adjustment.account.customer_id)
    adjustment = PointsAdjustment.objects.select_for_update().get(pk=adjustment.pk)
    if adjustment.status != AdjustmentStatus.PENDING:
        raise ValidationFailed(_("This adjustment was already decided."))
    if adjustment.requested_by_id == actor.pk:
        raise AdjustmentNotAllowed(_("Someone else must approve your own request."))
    before = account.balance
    if approve:
        _apply(account=account, adjustment=adjustment, actor=actor)
    adjustment.status = AdjustmentStatus.APPROVED if approve else AdjustmentStatus.REJECTED
    adjustment.decided_by = actor
    adjustment.decided_at = timezone.now()
    adjustment.save(update_fields=["status", "decided_by", "decided_at", "transaction"])
    audit_record(
        actor=actor,
        action="points.adjust_approved" if approve else "points.adjust_rejected",
        target=account,
        summary=f"{adjustment.points:+d} {adjustment.reason}"[:300],
        before={"balance": before},
        after={"balance": account.balance},
    )
    return adjustment
