"""Redeeming rewards for points, cancelling and fulfilling redemptions.

Invariants kept here:
- 3: stock never goes negative and the per-member limit holds under concurrent requests. The
  account row is locked first, then the reward row (the documented order everywhere), and all
  checks run after both locks; the CHECK ``stock >= 0`` is the backstop. A refused request
  raises before anything is written (and the transaction rolls back whatever it began).
- 4: points are spent from the soonest-expiring lots first (``ledger.spend_lots``), and the
  LotAllocation rows remember which lots paid, so a cancellation gives the points back to the
  same lots with their original expiry.
- 2: a redemption is made once per idempotency key (unique ``Redemption.idempotency_key``);
  its ledger rows are keyed ``redemption:<id>`` and ``redemption:<id>:cancel``. A key answers
  only the request that made it: the same member, reward and quantity get the first redemption
  back; anything else is ``idempotency_conflict`` and learns nothing about the first (callers
  scope their keys — ``portal:<customer>:…``, ``api:<api key>:…`` — so keys of different
  callers never meet).

Decisions: voucher and cash-off rewards issue their coupon at once (status fulfilled, the code
in ``voucher_code``); with quantity > 1 it is one coupon usable ``quantity`` times. Donations
are fulfilled at once; physical gifts and experiences wait in the fulfilment queue. A
cancellation restores points to a lot whose expiry has already passed as well — the nightly
expiry job then expires them; if the lot was already closed by that job, the points return in a
new lot with the same earning and expiry dates (a lot expires once, under its own key).
"""

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db import IntegrityError, transaction
from django.db.models import F, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.accounts.models import User
from apps.core import events
from apps.core.exceptions import ApplicationError, Conflict, NotFound, ValidationFailed
from apps.core.services import audit_record
from apps.core.text import text_check
from apps.customers.enums import StoreKind
from apps.customers.models import Customer, Store

from .. import ledger
from ..enums import VOUCHER_KINDS, CouponKind, LotStatus, RedemptionStatus, RewardKind, TxKind
from ..exceptions import InsufficientPoints, LimitReached, NotEligible, OutOfStock
from ..locks import lock_account, lock_reward
from ..models import Coupon, LoyaltyAccount, PointsLot, Redemption, Reward
from .bonuses import debt_settle
from .coupons import coupon_issue

IMMEDIATE_KINDS = (*VOUCHER_KINDS, RewardKind.DONATION)
DELIVERY_ADDRESS_MAX = 500


def _check_handover(*, reward: Reward, pickup_store: Store | None, delivery_address: str) -> None:
    """How a gift or experience reaches the member: at most one of a pick-up store (a shop or
    partner that is open) and a delivery address; neither for rewards that complete at once."""
    if pickup_store is None and not delivery_address:
        return
    if reward.kind in IMMEDIATE_KINDS:
        raise ValidationFailed(
            _("Only gifts and experiences are collected or delivered."), field="pickup_store"
        )
    if pickup_store is not None and delivery_address:
        raise ValidationFailed(
            _("Choose a pick-up store or a delivery address, not both."), field="delivery_address"
        )
    if pickup_store is not None and (
        not pickup_store.is_active or pickup_store.kind == StoreKind.ONLINE
    ):
        raise ValidationFailed(
            _("Rewards cannot be collected at this store."), field="pickup_store"
        )
    if len(delivery_address) > DELIVERY_ADDRESS_MAX:
        raise ValidationFailed(
            _("The address is too long (%(n)s characters at most).") % {"n": DELIVERY_ADDRESS_MAX},
            field="delivery_address",
        )
    text_check(delivery_address=delivery_address, multiline=["delivery_address"])


def _check_eligible(
    *, account: LoyaltyAccount, reward: Reward, quantity: int, now: dt.datetime
) -> None:
    if not reward.is_active:
        raise NotEligible(_("This reward is not available."))
    if reward.starts_at and now < reward.starts_at:
        raise NotEligible(_("This reward is not available yet."))
    if reward.ends_at and now > reward.ends_at:
        raise NotEligible(_("This reward is no longer available."))
    if reward.min_tier_id is not None:
        rank = account.tier.rank if account.tier is not None else -1
        if rank < reward.min_tier.rank:
            raise NotEligible(
                _("This reward is for %(tier)s members and above.") % {"tier": reward.min_tier}
            )
    if reward.per_member_limit is not None:
        taken = (
            Redemption.objects.filter(account=account, reward=reward)
            .exclude(status=RedemptionStatus.CANCELLED)
            .aggregate(n=Sum("quantity"))["n"]
            or 0
        )
        if taken + quantity > reward.per_member_limit:
            raise LimitReached(
                _("This reward is limited to %(n)s per member; %(taken)s already redeemed.")
                % {"n": reward.per_member_limit, "taken": taken}
            )
    if reward.stock is not None and reward.stock < quantity:
        raise OutOfStock(
            _("Only %(n)s left in stock.") % {"n": reward.stock}
            if reward.stock
            else _("This reward is out of stock.")
        )
    cost = reward.cost_points * quantity
    if account.balance < cost:
        raise InsufficientPoints(
            _("This needs %(cost)s points; the balance is %(balance)s.")
            % {"cost": cost, "balance": account.balance},
            balance=account.balance,
            needed=cost,
        )


def _replay(*, key: str, customer: Customer, reward: Reward, quantity: int) -> Redemption | None:
    """The redemption already made under ``key``, if it is the same request; None if the key is
    new. A key reused for another member, reward or quantity is a conflict, never a replay."""
    done = Redemption.objects.select_related("account").filter(idempotency_key=key).first()
    if done is None:
        return None
    if (done.account.customer_id, done.reward_id, done.quantity) != (
        customer.pk,
        reward.pk,
        quantity,
    ):
        raise _key_conflict()
    return done


def _key_conflict() -> Conflict:
    return Conflict(
        _("This idempotency key was already used for another redemption."),
        code="idempotency_conflict",
    )


@transaction.atomic
def reward_redeem(
    *,
    customer: Customer,
    reward: Reward,
    quantity: int = 1,
    key: str,
    actor: User | None = None,
    channel: str = "portal",
    pickup_store: Store | None = None,
    delivery_address: str = "",
    at: dt.datetime | None = None,
) -> Redemption:
    """Spend points (soonest-expiring first) and stock for ``quantity`` of ``reward``, once per
    ``key``: the same key again, for the same member, reward and quantity, returns the first
    redemption. The same key for another member, reward or quantity raises Conflict
    ``idempotency_conflict`` and reveals nothing of the first one (its voucher code is the
    member's money). Refusals (NotEligible, LimitReached, OutOfStock, InsufficientPoints,
    Conflict) change nothing. A gift or experience may say how it reaches the member: a
    ``pickup_store`` or a ``delivery_address`` (the fulfilment queue shows it). ``at`` (default
    now) is when the member redeemed: the reward's window is checked then and the rows and
    voucher are dated then (back-filled history, which replays days in order, so the balance
    checked is the balance at that time)."""
    if not 1 <= quantity <= 100:
        raise ValidationFailed(_("Quantity must be between 1 and 100."))
    delivery_address = delivery_address.strip()
    _check_handover(reward=reward, pickup_store=pickup_store, delivery_address=delivery_address)
    if not key:
        raise ValidationFailed(_("A redemption needs an idempotency key."))
    if (done := _replay(key=key, customer=customer, reward=reward, quantity=quantity)) is not None:
        return done
    account = lock_account(customer_id=customer.pk)
    # A concurrent request with the same key may have committed while we waited for the lock.
    if (done := _replay(key=key, customer=customer, reward=reward, quantity=quantity)) is not None:
        return done
    reward = lock_reward(reward_id=reward.pk)
    now = at or timezone.now()
    _check_eligible(account=account, reward=reward, quantity=quantity, now=now)
    cost = reward.cost_points * quantity
    immediate = reward.kind in IMMEDIATE_KINDS
    try:
        with transaction.atomic():
            redemption = Redemption.objects.create(
                account=account,
                reward=reward,
                quantity=quantity,
                points=cost,
                status=RedemptionStatus.FULFILLED if immediate else RedemptionStatus.REQUESTED,
                fulfilled_at=now if immediate else None,
                channel=channel[:10],
                pickup_store=pickup_store,
                delivery_address=delivery_address,
                idempotency_key=key,
                actor=actor if getattr(actor, "pk", None) else None,
                created_at=now,
            )
    except IntegrityError:
        # The same key committed meanwhile for another member (their account lock is not ours).
        raise _key_conflict() from None
    tx = ledger.append(
        account=account,
        kind=TxKind.REDEEM,
        key=f"redemption:{redemption.pk}",
        points=-cost,
        reason=f"{reward.name} × {quantity}" if quantity > 1 else reward.name,
        redemption=redemption,
        actor=redemption.actor,
        at=now,
    )
    ledger.spend_lots(account=account, points=cost, tx=tx)
    if reward.stock is not None:
        Reward.objects.filter(pk=reward.pk).update(stock=F("stock") - quantity, updated_at=now)
    if reward.kind in VOUCHER_KINDS:
        coupon = coupon_issue(
            owner=customer,
            kind=reward.coupon_kind or CouponKind.FIXED,
            value=reward.coupon_value,
            min_spend=reward.coupon_min_spend,
            valid_days=reward.coupon_valid_days,
            source_ref=f"reward:{reward.slug}",
            redemption=redemption,
            max_uses=quantity,
            at=now,
        )
        redemption.voucher_code = coupon.code
        redemption.save(update_fields=["voucher_code", "updated_at"])
    if redemption.actor is not None:
        audit_record(
            actor=actor,
            action="reward.redeem",
            target=redemption,
            summary=f"{reward.name} × {quantity} for {customer.member_number}",
            before={"balance": account.balance + cost},
            after={"balance": account.balance, "points": -cost},
        )
    events.publish(
        "redemption.created",
        redemption_id=redemption.pk,
        customer_id=customer.pk,
        reward_id=reward.pk,
    )
    if immediate:
        events.publish(
            "redemption.fulfilled",
            redemption_id=redemption.pk,
            customer_id=customer.pk,
            reward_id=reward.pk,
        )
    return redemption


def _lock_redemption(redemption: Redemption) -> tuple[LoyaltyAccount, Redemption]:
    """The redemption's account and the redemption, locked in that order. The account is read
    from the database, not from ``redemption``: a merge of duplicate members moves redemptions
    to the survivor's account, and a copy loaded before it would name the old one."""
    for _attempt in range(3):
        customer_id = (
            Redemption.objects.filter(pk=redemption.pk)
            .values_list("account__customer_id", flat=True)
            .get()
        )
        account = lock_account(customer_id=customer_id)
        locked = (
            Redemption.objects.select_for_update(of=("self",))
            .select_related("reward")
            .get(pk=redemption.pk)
        )
        if locked.account_id == account.pk:
            return account, locked
        # Moved by a merge between the read and the lock: lock the new account instead.
    raise Conflict(_("The redemption is being changed; try again."), code="redemption_busy")


def _restore_lots(*, redemption: Redemption, account: LoyaltyAccount) -> None:
    """Give the redeemed points back to the lots they came from."""
    redeem_tx = ledger.tx_exists(f"redemption:{redemption.pk}")
    allocations = list(redeem_tx.allocations.order_by("lot_id")) if redeem_tx else []
    lots = PointsLot.objects.select_for_update().in_bulk([a.lot_id for a in allocations])
    for allocation in allocations:
        lot = lots[allocation.lot_id]
        if lot.status == LotStatus.EXPIRED:
            # The expiry job already closed this lot under its key ``lot:<id>:expire``; the
            # points come back in a twin lot with the same dates so the job can expire it once.
            PointsLot.objects.create(
                account=account,
                points=allocation.points,
                remaining=allocation.points,
                status=LotStatus.AVAILABLE,
                earned_at=lot.earned_at,
                available_at=lot.available_at,
                expires_at=lot.expires_at,
            )
            continue
        lot.remaining += allocation.points
        lot.status = LotStatus.AVAILABLE
        lot.save(update_fields=["remaining", "status"])


@transaction.atomic
def redemption_cancel(
    *,
    redemption: Redemption,
    actor: User | None = None,
    reason: str = "",
    by_member: bool = False,
    at: dt.datetime | None = None,
) -> Redemption:
    """Cancel a redemption that is still requested, or a voucher whose coupon was never used:
    the points go back to the same lots (original expiry), the stock comes back, the voucher is
    switched off. One REVERSE ledger row, dated ``at`` (default now); audited. Cancelling twice
    is refused."""
    account, redemption = _lock_redemption(redemption)
    reward = lock_reward(reward_id=redemption.reward_id)
    coupon = Coupon.objects.select_for_update().filter(redemption=redemption).first()
    cancellable = redemption.status == RedemptionStatus.REQUESTED or (
        redemption.status == RedemptionStatus.FULFILLED
        and reward.kind in VOUCHER_KINDS
        and coupon is not None
        and coupon.uses == 0
    )
    if not cancellable:
        raise Conflict(
            _("This redemption can no longer be cancelled."), code="redemption_not_cancellable"
        )
    before = {"status": redemption.status, "balance": account.balance}
    now = at or timezone.now()
    ledger.append(
        account=account,
        kind=TxKind.REVERSE,
        key=f"redemption:{redemption.pk}:cancel",
        points=redemption.points,
        reason=(reason or _("Redemption cancelled"))[:200],
        # The member's own withdrawal, or whether ``reason`` is a note staff wrote (shown as is).
        detail={"by": "member"} if by_member else {"note": bool(reason)},
        redemption=redemption,
        actor=actor if getattr(actor, "pk", None) else None,
        at=now,
    )
    _restore_lots(redemption=redemption, account=account)
    debt_settle(account=account, key=f"redemption:{redemption.pk}:cancel:settle", at=now)
    if reward.stock is not None:
        Reward.objects.filter(pk=reward.pk).update(
            stock=F("stock") + redemption.quantity, updated_at=now
        )
    if coupon is not None and coupon.is_active:
        coupon.is_active = False
        coupon.save(update_fields=["is_active", "updated_at"])
    redemption.status = RedemptionStatus.CANCELLED
    redemption.cancelled_at = now
    if reason:
        redemption.fulfilment_notes = "\n".join(filter(None, [redemption.fulfilment_notes, reason]))
    redemption.save(update_fields=["status", "cancelled_at", "fulfilment_notes", "updated_at"])
    audit_record(
        actor=actor,
        action="redemption.cancel",
        target=redemption,
        summary=f"{reward.name} × {redemption.quantity}: {reason}"[:300],
        before=before,
        after={"status": redemption.status, "balance": account.balance},
    )
    return redemption


@transaction.atomic
def redemption_fulfil(
    *, redemption: Redemption, actor: User, notes: str = "", at: dt.datetime | None = None
) -> Redemption:
    """Mark a requested redemption as handed over or shipped (at ``at``, default now); audited.
    Only requested ones."""
    redemption = (
        Redemption.objects.select_for_update(of=("self",))
        .select_related("reward", "account")
        .get(pk=redemption.pk)
    )
    if redemption.status != RedemptionStatus.REQUESTED:
        raise Conflict(
            _("Only requested redemptions can be fulfilled."), code="redemption_not_fulfillable"
        )
    before = {"status": redemption.status}
    redemption.status = RedemptionStatus.FULFILLED
    redemption.fulfilled_at = at or timezone.now()
    if notes.strip():
        redemption.fulfilment_notes = "\n".join(
            filter(None, [redemption.fulfilment_notes, notes.strip()])
        )
    redemption.save(update_fields=["status", "fulfilled_at", "fulfilment_notes", "updated_at"])
    audit_record(
        actor=actor,
        action="redemption.fulfil",
        target=redemption,
        summary=f"{redemption.reward.name} × {redemption.quantity}: {notes}"[:300],
        before=before,
        after={"status": redemption.status},
    )
    events.publish(
        "redemption.fulfilled",
        redemption_id=redemption.pk,
        customer_id=redemption.account.customer_id,
        reward_id=redemption.reward_id,
    )
    return redemption


BULK_FULFIL_MAX = 100


@dataclass
class BulkFulfilment:
    """What ``redemptions_fulfil`` did: the rows it fulfilled, and the ones it could not with
    the reason (``redemption`` is None for an id that is not in the fulfilment queue)."""

    fulfilled: list[Redemption] = field(default_factory=list)
    failed: list[tuple[int, Redemption | None, str]] = field(default_factory=list)


def redemptions_fulfil(*, ids: Iterable[int], actor: User, notes: str = "") -> BulkFulfilment:
    """Fulfil several redemptions of the queue (gifts and experiences), each through
    ``redemption_fulfil`` in its own transaction, in id order: a row that cannot be fulfilled
    (cancelled or fulfilled meanwhile, not in the queue) is reported with its reason and does
    not hold back the others. At most ``BULK_FULFIL_MAX`` ids at once."""
    wanted = sorted({int(pk) for pk in ids})
    if not wanted:
        raise ValidationFailed(_("Select the redemptions to fulfil."), field="ids")
    if len(wanted) > BULK_FULFIL_MAX:
        raise ValidationFailed(
            _("At most %(n)s redemptions at once.") % {"n": BULK_FULFIL_MAX}, field="ids"
        )
    found = Redemption.objects.select_related("reward", "account__customer").in_bulk(
        [pk for pk in wanted]
    )
    outcome = BulkFulfilment()
    for pk in wanted:
        redemption = found.get(pk)
        if redemption is None or redemption.reward.kind in IMMEDIATE_KINDS:
            outcome.failed.append((pk, None, str(NotFound.default_message)))
            continue
        try:
            done = redemption_fulfil(redemption=redemption, actor=actor, notes=notes)
        except ApplicationError as exc:
            outcome.failed.append((pk, redemption, exc.message))
        else:
            done.account = redemption.account  # the caller names the member without a query
            outcome.fulfilled.append(done)
    return outcome


def member_may_cancel(redemption: Redemption) -> bool:
    """Members withdraw only requests nobody has fulfilled yet (gifts, experiences); vouchers
    and fulfilled rewards are cancelled by staff."""
    return redemption.status == RedemptionStatus.REQUESTED


@transaction.atomic
def redemption_cancel_by_member(*, customer: Customer, redemption: Redemption) -> Redemption:
    """The member's own withdrawal of a request, checked under the row locks (a fulfilment that
    commits first wins): the points go back as in ``redemption_cancel``. Another member's
    redemption is not found; a refused cancel changes nothing."""
    account, locked = _lock_redemption(redemption)
    if account.customer_id != customer.pk:
        raise NotFound()
    if not member_may_cancel(locked):
        raise Conflict(
            _("This redemption can no longer be cancelled."), code="redemption_not_cancellable"
        )
    return redemption_cancel(
        redemption=locked, actor=None, reason=_("Cancelled by the member"), by_member=True
    )
