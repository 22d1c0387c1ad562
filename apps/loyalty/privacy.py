"""The loyalty app's part of "download my data" and erasure (``apps.core.privacy``).

Export: the member's loyalty account, ledger rows, lots, tier history, points adjustments,
redemptions, the coupons they own and the coupon uses on their orders, referrals made and
received (the other party only by member number), their referral code and badges.

Erasure (invariant 10) keeps every point, balance and total and replaces the free text that may
describe the person with "(erased)": redemptions' delivery addresses, ledger reasons (also the
referrer's thank-you row that named a referred member), adjustment reasons, fulfilment notes,
tier-change reasons and referral refusal reasons. The ledger is append-only; on PostgreSQL its
trigger lets exactly this through when the transaction set ``clientele.ledger_erasure``
(migration 0004): only ``reason``, which is not hashed, so ``verify_ledger`` still passes. The
summaries of audit events about the account, redemptions and coupons are scrubbed by the
customers app's eraser through ``audit_targets``.

Registered from ``LoyaltyConfig.ready()``.
"""

from django.db import connection
from django.db.models import Q, QuerySet

from apps.core.db import is_postgres
from apps.customers.models import Customer
from apps.customers.services.export import row_of
from apps.customers.suppression import ERASED_TEXT

from .models import (
    Coupon,
    CouponUse,
    CustomerBadge,
    LoyaltyAccount,
    PointsAdjustment,
    PointsLot,
    PointsTransaction,
    Redemption,
    Referral,
    ReferralCode,
    TierHistory,
)

# Staff identities, secrets of the hash chain and idempotency keys are not the member's data.
_TX_INTERNAL = ("account", "actor", "idempotency_key", "prev_hash", "hash")


def _account(customer: Customer) -> LoyaltyAccount | None:
    return LoyaltyAccount.objects.select_related("tier").filter(customer=customer).first()


def export_account(*, customer: Customer) -> list[dict]:
    account = _account(customer)
    if account is None:
        return []
    row = row_of(account, exclude=("customer", "last_hash"))
    row["tier_name"] = account.tier.name if account.tier else ""
    return [row]


def export_transactions(*, customer: Customer) -> list[dict]:
    rows = PointsTransaction.objects.filter(account__customer=customer).order_by("id")
    return [row_of(tx, exclude=_TX_INTERNAL) for tx in rows.iterator()]


def export_lots(*, customer: Customer) -> list[dict]:
    rows = PointsLot.objects.filter(account__customer=customer).order_by("id")
    return [row_of(lot, exclude=("account",)) for lot in rows.iterator()]


def export_tier_history(*, customer: Customer) -> list[dict]:
    rows = (
        TierHistory.objects.filter(account__customer=customer)
        .select_related("from_tier", "to_tier")
        .order_by("at", "id")
    )
    return [
        row_of(h, exclude=("account",))
        | {
            "from_tier_name": h.from_tier.name if h.from_tier else "",
            "to_tier_name": h.to_tier.name if h.to_tier else "",
        }
        for h in rows
    ]


def export_adjustments(*, customer: Customer) -> list[dict]:
    rows = PointsAdjustment.objects.filter(account__customer=customer).order_by("requested_at")
    return [row_of(a, exclude=("account", "requested_by", "decided_by")) for a in rows]


def export_redemptions(*, customer: Customer) -> list[dict]:
    rows = (
        Redemption.objects.filter(account__customer=customer)
        .select_related("reward")
        .order_by("created_at", "id")
    )
    return [
        row_of(r, exclude=("account", "actor", "idempotency_key")) | {"reward_name": r.reward.name}
        for r in rows
    ]


def export_coupons(*, customer: Customer) -> list[dict]:
    rows = Coupon.objects.filter(owner=customer).order_by("created_at", "id")
    return [row_of(c, exclude=("owner",)) for c in rows]


def export_coupon_uses(*, customer: Customer) -> list[dict]:
    rows = (
        CouponUse.objects.filter(customer=customer)
        .select_related("coupon", "store")
        .order_by("at", "id")
    )
    return [
        row_of(u, exclude=("customer",))
        | {"coupon_code": u.coupon.code, "store_name": u.store.name if u.store else ""}
        for u in rows
    ]


def export_referrals(*, customer: Customer) -> list[dict]:
    """Referrals both ways; the other member appears only by member number (their name, contacts
    and profile are theirs, not this member's)."""
    rows = (
        Referral.objects.filter(Q(referrer=customer) | Q(referee=customer))
        .select_related("referrer", "referee")
        .order_by("created_at", "id")
    )
    out = []
    for r in rows:
        made = r.referrer_id == customer.pk
        other = r.referee if made else r.referrer
        out.append(
            {"role": "referrer" if made else "referred", "other_member_number": other.member_number}
            | row_of(r, exclude=("referrer", "referee"))
        )
    return out


def export_referral_code(*, customer: Customer) -> list[dict]:
    return [
        row_of(c, exclude=("customer",)) for c in ReferralCode.objects.filter(customer=customer)
    ]


def export_badges(*, customer: Customer) -> list[dict]:
    rows = (
        CustomerBadge.objects.filter(customer=customer)
        .select_related("badge")
        .order_by("awarded_at", "id")
    )
    return [
        {"badge": b.badge.slug, "name": b.badge.name, "awarded_at": row_of(b)["awarded_at"]}
        for b in rows
    ]


def _ledger_reasons_erase(rows: QuerySet[PointsTransaction]) -> int:
    """Replace the ``reason`` of ledger rows -- the one column the append-only trigger lets an
    erasure change. Must run inside the erasure's transaction (SET LOCAL ends with it)."""
    if not connection.in_atomic_block:
        raise RuntimeError("ledger reasons can only be erased inside a transaction")
    rows = rows.exclude(reason__in=("", ERASED_TEXT))
    if not is_postgres():
        return rows.update(reason=ERASED_TEXT)
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL clientele.ledger_erasure = 'on'")
    count = rows.update(reason=ERASED_TEXT)
    with connection.cursor() as cursor:  # keep the exception as narrow as the work
        cursor.execute("SET LOCAL clientele.ledger_erasure = 'off'")
    return count


def erase(*, customer: Customer) -> None:
    account = _account(customer)
    referrals = Referral.objects.filter(Q(referrer=customer) | Q(referee=customer))
    received = referrals.filter(referee=customer).values_list("pk", flat=True)
    # The referrer's thank-you bonus row names the member they referred.
    ledger = Q(source_ref__in=[f"referral:{pk}" for pk in received])
    if account is not None:
        ledger |= Q(account=account)
    _ledger_reasons_erase(PointsTransaction.objects.filter(ledger))
    if account is not None:
        PointsAdjustment.objects.filter(account=account).exclude(reason=ERASED_TEXT).update(
            reason=ERASED_TEXT
        )
        Redemption.objects.filter(account=account).exclude(
            fulfilment_notes__in=("", ERASED_TEXT)
        ).update(fulfilment_notes=ERASED_TEXT)
        Redemption.objects.filter(account=account).exclude(
            delivery_address__in=("", ERASED_TEXT)
        ).update(delivery_address=ERASED_TEXT)
        TierHistory.objects.filter(account=account).exclude(reason__in=("", ERASED_TEXT)).update(
            reason=ERASED_TEXT
        )
    referrals.exclude(refusal_reason__in=("", ERASED_TEXT)).update(refusal_reason=ERASED_TEXT)


def audit_targets(*, customer: Customer) -> list[tuple[str, list[str]]]:
    """What audit events about this member's loyalty data target: account, redemptions,
    adjustments, coupons they own and referrals either way."""

    def ids(queryset) -> list[str]:
        return [str(pk) for pk in queryset.values_list("pk", flat=True)]

    accounts = LoyaltyAccount.objects.filter(customer=customer)
    return [
        (LoyaltyAccount._meta.label_lower, ids(accounts)),
        (Redemption._meta.label_lower, ids(Redemption.objects.filter(account__in=accounts))),
        (
            PointsAdjustment._meta.label_lower,
            ids(PointsAdjustment.objects.filter(account__in=accounts)),
        ),
        (Coupon._meta.label_lower, ids(Coupon.objects.filter(owner=customer))),
        (
            Referral._meta.label_lower,
            ids(Referral.objects.filter(Q(referrer=customer) | Q(referee=customer))),
        ),
    ]
