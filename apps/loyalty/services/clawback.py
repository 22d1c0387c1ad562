"""Clawback: a refund takes back its share of the points its order earned, once per refund
(ledger key ``refund:<id>``); see ``refund_clawback`` for the policy."""

import datetime as dt
from decimal import Decimal

from django.db import transaction
from django.db.models import Q, Sum
from django.utils.translation import gettext as _

from apps.core import events
from apps.customers.models import Order, Refund
from apps.customers.services import refund_record

from .. import ledger
from ..enums import LotStatus, TxKind
from ..locks import lock_account
from ..models import LotAllocation, PointsLot, PointsTransaction


def _earned_for_order(order: Order) -> int:
    tx = ledger.tx_exists(f"order:{order.pk}:earn")
    return (tx.points + tx.pending_points) if tx else 0


def _share(earned: int, refunded: Decimal, total: Decimal) -> int:
    """The order's points that ``refunded`` (capped at the total) of ``total`` stands for."""
    refunded = min(refunded, total)
    return int((Decimal(earned) * refunded / total).to_integral_value())


def _refund_share(*, refund: Refund, order: Order, earned: int) -> tuple[int, int]:
    """(points this refund stands for, points the refunds before it stood for). Refunds are
    taken in their own order (time, then id), so each one's share is fixed whenever and in
    whatever order they are processed, and the shares add up to the refunded part of what the
    order earned, never more."""
    before = Refund.objects.filter(order=order).filter(
        Q(at__lt=refund.at) | Q(at=refund.at, pk__lt=refund.pk)
    ).aggregate(s=Sum("amount"))["s"] or Decimal(0)
    previous = _share(earned, before, order.total)
    return _share(earned, before + refund.amount, order.total) - previous, previous


@transaction.atomic
def refund_clawback(*, refund: Refund, at: dt.datetime | None = None) -> PointsTransaction | None:
    """Claw back the refund's share of the order's points, once per refund (one REFUND ledger
    row, key ``refund:<id>``, dated ``at``, default now; back-filled history passes the time
    the refund was made).

    Policy. The refund's share is the refunded part of what the order earned (shares of split
    refunds add up, see ``_refund_share``). The order's points are now in one of four places,
    and the share is met from them in this order:

    1. still in the order's own lot (pending or available): taken from that lot;
    2. EXPIRED from that lot: not clawed again, they are already gone (the ledger row says how
       many were left out);
    3. SPENT by the member (redeemed, adjusted away, used to settle a debt): taken from the
       member's other available lots, soonest-expiring first;
    4. what those lots cannot cover is recorded as debt (``account.debt``), taken from future
       earnings by ``debt_settle``, so the balance never goes negative.

    Invariant: over all refunds of an order, taken + owed + left out as expired equals the
    refunded share of what it earned, so never more than the order earned. What earlier refunds
    owed counts as clawed: a split refund never charges the same points twice.
    """
    order = refund.order
    if order.customer_id is None:
        return None
    account = lock_account(customer_id=order.customer_id)
    key = f"refund:{refund.pk}"
    if (done := ledger.tx_exists(key)) is not None:
        return done
    earned = _earned_for_order(order)
    if earned <= 0 or order.total <= 0:
        return None
    share, previous = _refund_share(refund=refund, order=order, earned=earned)
    if share <= 0:
        return None
    lot = PointsLot.objects.select_for_update().filter(order=order, account=account).first()
    from_lot = 0
    if lot is not None and lot.status in (LotStatus.PENDING, LotStatus.AVAILABLE):
        from_lot = min(share, lot.remaining)
    # Expired points of the order that earlier refunds have not yet left out. Earlier shares
    # were met from the lot first, then from what had expired, so the part of them beyond what
    # they took from the lot has used up the expired points first.
    expired = 0
    taken_from_lot = 0
    if lot is not None:
        expired = -(
            PointsTransaction.objects.filter(kind=TxKind.EXPIRE, lot=lot).aggregate(
                s=Sum("points")
            )["s"]
            or 0
        )
        taken_from_lot = (
            LotAllocation.objects.filter(
                lot=lot, transaction__kind=TxKind.REFUND, transaction__refund__order=order
            ).aggregate(s=Sum("points"))["s"]
            or 0
        )
    expired_left = expired - min(expired, max(previous - taken_from_lot, 0))
    left_out = min(share - from_lot, expired_left)
    spent = share - from_lot - left_out
    pending = lot is not None and lot.status == LotStatus.PENDING
    from_others = min(spent, account.balance - (0 if pending else from_lot))
    debt = spent - from_others
    reason = _("Refund %(id)s") % {"id": refund.refund_id}
    if left_out:
        reason += "; " + _("%(n)s points had already expired") % {"n": left_out}
    if debt:
        reason += "; " + _("%(n)s points owed") % {"n": debt}
    tx = ledger.build(
        account=account,
        kind=TxKind.REFUND,
        key=key,
        points=-(from_others + (0 if pending else from_lot)),
        pending_points=-(from_lot if pending else 0),
        reason=reason,
        # Parts of the share not taken from the balance: already expired, or owed.
        detail={k: v for k, v in (("expired", left_out), ("owed", debt)) if v},
        order=order,
        refund=refund,
        at=at,
    )
    tx.save()
    if from_lot:
        ledger.spend_lots(account=account, points=from_lot, tx=tx, lots=[lot])
    if from_others:
        ledger.spend_lots(account=account, points=from_others, tx=tx)
    account.debt += debt
    account.save(update_fields=ledger.ACCOUNT_COUNTERS)
    events.publish(
        "refund.clawed_back",
        refund_id=refund.pk,
        order_id=order.pk,
        customer_id=order.customer_id,
        points=from_others + from_lot,
        owed=debt,
        expired=left_out,
    )
    return tx


@transaction.atomic
def refund_ingest(
    *, order: Order, refund_id: str, amount: Decimal, reason: str = ""
) -> tuple[Refund, bool, PointsTransaction | None]:
    """Record a refund and claw back its points in one transaction: a refund that exists has
    reversed its points. The same refund id again returns the first result."""
    refund, created = refund_record(order=order, refund_id=refund_id, amount=amount, reason=reason)
    return refund, created, refund_clawback(refund=refund)
