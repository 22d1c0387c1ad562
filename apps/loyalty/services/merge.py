"""The loyalty app's part of merging duplicate customers (``apps.customers.services.merge``;
registered as the ``loyalty_account`` section's merger in ``LoyaltyConfig.ready``, after the
customers app's rows have moved).

What moves, and how invariant 1 stays true for both accounts:

* Points: one transfer pair of ledger rows, kind ``transfer``: a debit of the source account's
  whole balance and pending points (key ``merge:<source id>:out``), a credit of the same on the
  survivor's (``merge:<source id>:in``), each appended to its own account's HMAC chain by
  ``ledger.append``, both naming the other member in ``source_ref``; audited as
  ``points.transfer``. No pair when the source holds no points. Ledger rows themselves never
  move (append-only, and a row's hash covers its account): the source's history stays on its
  chain, which ends in the debit.
* Lots: every lot of the source account moves to the survivor's account, open ones with their
  remaining points, earning, availability and expiry dates unchanged (a merge neither extends
  nor shortens the life of a point), closed ones as history. So after the pair
  ``balance == Σ ledger == Σ open lots`` holds on both accounts, the nightly jobs mature and
  expire the moved lots once under their own keys (``lot:<id>:…``) on the survivor, and a
  refund of a moved order finds its lot on the survivor's account.
* Redemptions move (with them the per-member limits, fulfilment and cancellation: a
  cancellation gives the points back to the lots the redemption took them from, which are now
  the survivor's), and so do pending points adjustments (decided ones stay with the ledger rows
  they wrote). Points owed from clawbacks (``debt``) and ``lifetime_earned`` move too; the
  owed points are then settled from the survivor's balance.
* Coupons the source owns and its coupon uses move (a per-member coupon limit counts the
  person's uses under both numbers). Badges are united (the earlier award is kept; a badge
  both held stays one), then the survivor's badges are evaluated on the joined history.
* Referrals: the source's referrals made move to the survivor, except one naming the survivor
  as the friend (a person cannot refer themselves: it stays as history). The source's own
  "referred by" moves when the survivor has none and was not the referrer. The source's
  referral code moves when the survivor has none (old links keep working: a code of a
  merged-away member refers for its survivor, see ``referral_register``).
* Tier: the survivor is evaluated on the joined history (orders have moved) by
  ``tier_evaluate`` (upgrades at once); if the source held a higher tier, the survivor takes
  it over with the source's review date (merging never downgrades the person, invariant 5).
  The source account leaves the tier ladder (no tier, no review date) with a tier-history row.
"""

from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from apps.core.services import audit_record
from apps.customers.models import Customer

from .. import ledger
from ..enums import AdjustmentStatus, TxKind
from ..locks import account_ensure, lock_accounts
from ..models import (
    Coupon,
    CouponUse,
    CustomerBadge,
    LoyaltyAccount,
    PointsAdjustment,
    PointsLot,
    Redemption,
    Referral,
    ReferralCode,
    TierHistory,
)
from .badges import badges_evaluate
from .bonuses import debt_settle
from .tiers import tier_adopt, tier_evaluate


def _transfer(
    *, source: Customer, target: Customer, src: LoyaltyAccount, dst: LoyaltyAccount, actor: Any
) -> dict[str, int]:
    points, pending = src.balance, src.pending
    PointsLot.objects.filter(account=src).update(account=dst)
    if not points and not pending:
        return {}
    now = timezone.now()
    actor_obj = actor if getattr(actor, "pk", None) else None
    out = ledger.append(
        account=src,
        kind=TxKind.TRANSFER,
        key=f"merge:{source.pk}:out",
        points=-points,
        pending_points=-pending,
        reason=_("Merged into member %(n)s") % {"n": target.member_number},
        source_ref=f"merge:{target.member_number}",
        actor=actor_obj,
        at=now,
    )
    into = ledger.append(
        account=dst,
        kind=TxKind.TRANSFER,
        key=f"merge:{source.pk}:in",
        points=points,
        pending_points=pending,
        reason=_("Merged from member %(n)s") % {"n": source.member_number},
        source_ref=f"merge:{source.member_number}",
        actor=actor_obj,
        at=now,
    )
    audit_record(
        actor=actor,
        action="points.transfer",
        target=dst,
        summary=f"{points:+d} / {pending:+d} pending {source.member_number} -> "
        f"{target.member_number}",
        before={"balance": dst.balance - points, "pending": dst.pending - pending},
        after={
            "balance": dst.balance,
            "pending": dst.pending,
            "points": points,
            "pending_points": pending,
            "from_account": src.pk,
            "from_member": source.member_number,
            "transactions": [out.pk, into.pk],
        },
    )
    return {"points": points, "pending_points": pending}


def _counters(*, src: LoyaltyAccount, dst: LoyaltyAccount) -> None:
    dst.debt += src.debt
    dst.lifetime_earned += src.lifetime_earned
    src.debt = src.lifetime_earned = 0
    for account in (src, dst):
        account.save(update_fields=ledger.ACCOUNT_COUNTERS)


def _badges(*, source: Customer, target: Customer) -> int:
    held = {b.badge_id: b for b in CustomerBadge.objects.filter(customer=target)}
    moved = 0
    for badge in CustomerBadge.objects.filter(customer=source).order_by("pk"):
        mine = held.get(badge.badge_id)
        if mine is None:
            badge.customer = target
            badge.save(update_fields=["customer"])
            moved += 1
            continue
        if badge.awarded_at < mine.awarded_at:
            mine.awarded_at = badge.awarded_at
            mine.save(update_fields=["awarded_at"])
        badge.delete()  # the same recognition twice: the survivor's row stands for both
    return moved


def _referrals(*, source: Customer, target: Customer) -> dict[str, int]:
    made = (
        Referral.objects.filter(referrer=source)
        .exclude(referee=target)
        .update(referrer=target, updated_at=timezone.now())
    )
    received = 0
    if not Referral.objects.filter(referee=target).exists():
        received = (
            Referral.objects.filter(referee=source)
            .exclude(referrer=target)
            .update(referee=target, updated_at=timezone.now())
        )
    code = 0
    if not ReferralCode.objects.filter(customer=target).exists():
        code = ReferralCode.objects.filter(customer=source).update(customer=target)
    return {"referrals_made": made, "referral_received": received, "referral_code": code}


def _tier(*, source: Customer, src: LoyaltyAccount, dst: LoyaltyAccount) -> None:
    tier_evaluate(account=dst)
    rank = dst.tier.rank if dst.tier else -1
    if src.tier is not None and src.tier.rank > rank:
        tier_adopt(
            account=dst,
            tier=src.tier,
            review_at=src.tier_review_at,
            reason=_("Kept %(tier)s of merged member %(n)s")
            % {"tier": src.tier.name, "n": source.member_number},
        )
    if src.tier_id is not None or src.tier_review_at is not None:
        TierHistory.objects.create(
            account=src,
            from_tier=src.tier,
            to_tier=None,
            reason=_("Merged into another membership"),
        )
        src.tier, src.tier_since, src.tier_review_at = None, None, None
        src.save(update_fields=["tier", "tier_since", "tier_review_at", "updated_at"])


def merge_loyalty(*, source: Customer, target: Customer, actor: Any) -> dict[str, int]:
    """Move the source's loyalty data to the survivor (see the module docstring). Called by
    ``customer_merge`` with both customer rows locked; locks both accounts in pk order."""
    moved: dict[str, int] = {}
    src_id = LoyaltyAccount.objects.filter(customer=source).values_list("pk", flat=True).first()
    if src_id is not None:
        dst_id = account_ensure(customer_id=target.pk).pk
        accounts = lock_accounts(account_ids=[src_id, dst_id])
        src, dst = accounts[src_id], accounts[dst_id]
        moved["lots"] = PointsLot.objects.filter(account=src).count()
        moved.update(_transfer(source=source, target=target, src=src, dst=dst, actor=actor))
        moved["redemptions"] = Redemption.objects.filter(account=src).update(account=dst)
        moved["adjustments"] = PointsAdjustment.objects.filter(
            account=src, status=AdjustmentStatus.PENDING
        ).update(account=dst)
        _counters(src=src, dst=dst)
        debt_settle(account=dst, key=f"merge:{source.pk}:settle")
    moved["coupons"] = Coupon.objects.filter(owner=source).update(
        owner=target, updated_at=timezone.now()
    )
    moved["coupon_uses"] = CouponUse.objects.filter(customer=source).update(customer=target)
    moved["badges"] = _badges(source=source, target=target)
    moved.update(_referrals(source=source, target=target))
    if src_id is not None:
        _tier(source=source, src=src, dst=dst)
    badges_evaluate(customer=target)
    return {k: v for k, v in moved.items() if v}
