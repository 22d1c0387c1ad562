"""Coupons: batches of unguessable codes, single coupons issued to a member, validation and
redemption.

Invariant 3 for coupons: usage limits hold under concurrent requests. ``coupon_redeem`` takes
the coupon's row lock before it counts uses, so uses of one coupon are serialised; the CHECK
``uses <= max_uses`` is the database backstop, and the unique key (coupon, store,
order_external_id) makes a retried or concurrent redemption for the same order harmless (it
returns the first use). A refused redemption writes nothing.

Decisions: an owned coupon is a bearer voucher at the till — when no member is given its use is
counted for the owner; when another member is given it is refused. Percent discounts round to
cents half-up and never exceed the order total; free shipping has no discount on the goods.
"""

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.accounts.models import User
from apps.core.bulk import rows_insert
from apps.core.content import content_input
from apps.core.db import is_postgres
from apps.core.exceptions import ValidationFailed
from apps.core.services import audit_record
from apps.core.text import text_check
from apps.customers.models import Customer, Order, Store

from ..codes import (
    VOUCHER_CODE_LENGTH,
    code_compact,
    code_normalize,
    coupon_code_generate,
    voucher_code_generate,
)
from ..enums import CouponKind, CouponRefusal
from ..exceptions import CouponInvalid
from ..models import Coupon, CouponBatch, CouponUse, Redemption
from .configuration import audited_update

MAX_BATCH_SIZE = 100_000
CENT = Decimal("0.01")


@dataclass(frozen=True)
class CouponCheck:
    """Outcome of a validation. ``reason`` is a human message (translated); ``reason_code`` a
    stable machine value: unknown, inactive, not_yet_valid, expired, used_up,
    per_customer_limit, not_owner, below_min_spend ("" when valid)."""

    valid: bool
    discount: Decimal
    reason: str
    code: str
    coupon: Coupon | None
    reason_code: str = ""


def _voucher_code() -> str:
    """A short owned-voucher code no coupon has yet (a repeat among 31^10 codes is rare, not
    impossible; the unique column stays the last word)."""
    for _attempt in range(8):
        code = voucher_code_generate()
        if not Coupon.objects.filter(code=code).exists():
            return code
    raise RuntimeError("No free voucher code after 8 draws: the code space is exhausted.")


def coupon_find(*, code: str, lock: bool = False) -> Coupon | None:
    """The coupon for a typed code (any case, with or without dashes or spaces)."""
    candidates = {code_normalize(code), code_compact(code)} - {""}
    if not candidates:
        return None
    qs = Coupon.objects.filter(code__in=candidates)
    if lock:
        qs = qs.select_for_update()
    return qs.order_by("pk").first()


def _discount(coupon: Coupon, total: Decimal | None) -> Decimal:
    if total is None or coupon.kind == CouponKind.FREE_SHIPPING:
        return Decimal(0)
    if coupon.kind == CouponKind.PERCENT:
        amount = (total * coupon.value / 100).quantize(CENT, rounding=ROUND_HALF_UP)
        return min(amount, total)
    return min(coupon.value, total).quantize(CENT)


def _refusal(code: str, coupon: Coupon | None, reason_code: str, reason: str) -> CouponCheck:
    return CouponCheck(False, Decimal(0), reason, code, coupon, reason_code)


def _hidden_from(coupon: Coupon, customer: Customer | None) -> bool:
    """A short voucher code exists only for its owner: checked without the member, or for
    another one, it is an unknown code, so guessing short codes finds nothing and learns
    nothing. (Long codes, bearer secrets, keep ``not_owner`` and the owner-less check.)"""
    short = len(code_compact(coupon.code)) == VOUCHER_CODE_LENGTH
    return (
        short and coupon.owner_id is not None and getattr(customer, "pk", None) != coupon.owner_id
    )


def _check(
    *,
    coupon: Coupon | None,
    code: str,
    customer: Customer | None,
    order_total: Decimal | None,
    at: dt.datetime,
) -> CouponCheck:
    if coupon is None or _hidden_from(coupon, customer):
        return _refusal(code, None, CouponRefusal.UNKNOWN, _("There is no coupon with this code."))
    code = coupon.code
    if not coupon.is_active:
        return _refusal(code, coupon, CouponRefusal.INACTIVE, _("This coupon is no longer active."))
    if coupon.valid_from and at < coupon.valid_from:
        return _refusal(
            code, coupon, CouponRefusal.NOT_YET_VALID, _("This coupon is not valid yet.")
        )
    if coupon.valid_until and at > coupon.valid_until:
        return _refusal(code, coupon, CouponRefusal.EXPIRED, _("This coupon has expired."))
    if coupon.uses >= coupon.max_uses:
        return _refusal(
            code, coupon, CouponRefusal.USED_UP, _("This coupon has already been used.")
        )
    if coupon.owner_id is not None and customer is not None and customer.pk != coupon.owner_id:
        return _refusal(
            code, coupon, CouponRefusal.NOT_OWNER, _("This coupon belongs to another member.")
        )
    holder_id = customer.pk if customer is not None else coupon.owner_id
    if holder_id is not None:
        used = CouponUse.objects.filter(coupon=coupon, customer_id=holder_id).count()
        if used >= coupon.max_uses_per_customer:
            return _refusal(
                code,
                coupon,
                CouponRefusal.PER_CUSTOMER_LIMIT,
                _("This member has already used this coupon as often as allowed."),
            )
    if coupon.min_spend > 0 and (order_total is None or order_total < coupon.min_spend):
        return _refusal(
            code,
            coupon,
            CouponRefusal.BELOW_MIN_SPEND,
            _("The order must come to at least %(amount)s.") % {"amount": coupon.min_spend},
        )
    return CouponCheck(True, _discount(coupon, order_total), "", code, coupon, "")


def coupon_validate(
    *, code: str, customer: Customer | None = None, order_total: Decimal | None
) -> CouponCheck:
    """Whether ``code`` can be used now by ``customer`` on an order of ``order_total``, and the
    discount it gives. Reads only."""
    coupon = coupon_find(code=code)
    return _check(
        coupon=coupon,
        code=code_normalize(code),
        customer=customer,
        order_total=order_total,
        at=timezone.now(),
    )


@transaction.atomic
def coupon_redeem(
    *,
    code: str,
    customer: Customer | None = None,
    store: Store,
    order_external_id: str,
    order_total: Decimal | None = None,
) -> CouponUse:
    """Use the coupon on one order, atomically. The same order again returns the first use and
    counts nothing more; a refusal raises CouponInvalid and writes nothing. When
    ``order_total`` is not given, the recorded order's total is used if the order exists."""
    coupon = coupon_find(code=code, lock=True)
    if coupon is not None:
        done = CouponUse.objects.filter(
            coupon=coupon, store=store, order_external_id=order_external_id
        ).first()
        if done is not None:
            return done
    order = Order.objects.filter(store=store, external_id=order_external_id).first()
    if order_total is None and order is not None:
        order_total = order.total
    if customer is None and order is not None and order.customer_id is not None:
        customer = order.customer
    check = _check(
        coupon=coupon,
        code=code_normalize(code),
        customer=customer,
        order_total=order_total,
        at=timezone.now(),
    )
    if not check.valid:
        raise CouponInvalid(check.reason, reason=check.reason_code)
    use = CouponUse.objects.create(
        coupon=coupon,
        customer_id=customer.pk if customer is not None else coupon.owner_id,
        order=order,
        store=store,
        order_external_id=order_external_id,
        discount=check.discount,
    )
    Coupon.objects.filter(pk=coupon.pk).update(uses=F("uses") + 1, updated_at=timezone.now())
    return use


def _check_terms(*, kind: str, value: Decimal, min_spend: Decimal) -> None:
    if kind not in CouponKind.values:
        raise ValidationFailed(_("Unknown coupon kind."))
    if value < 0 or min_spend < 0:
        raise ValidationFailed(_("Amounts cannot be negative."))
    if kind == CouponKind.PERCENT and not (0 < value <= 100):
        raise ValidationFailed(_("A percentage must be between 0 and 100."))
    if kind == CouponKind.FIXED and value <= 0:
        raise ValidationFailed(_("An amount-off coupon needs a positive value."))


@transaction.atomic
def coupon_issue(
    *,
    owner: Customer | None,
    kind: str,
    value: Decimal,
    min_spend: Decimal = Decimal(0),
    valid_days: int = 90,
    source_ref: str = "",
    redemption: Redemption | None = None,
    max_uses: int = 1,
    at: dt.datetime | None = None,
) -> Coupon:
    """One coupon with a fresh code, owned by ``owner`` (a voucher in their wallet), valid from
    ``at`` (default now) for ``valid_days`` days (0 = no end). ``max_uses`` is also the owner's
    allowance."""
    value, min_spend = Decimal(value), Decimal(min_spend)
    _check_terms(kind=kind, value=value, min_spend=min_spend)
    now = at or timezone.now()
    return Coupon.objects.create(
        code=_voucher_code() if owner is not None else coupon_code_generate(),
        kind=kind,
        value=value,
        min_spend=min_spend,
        valid_from=now,
        valid_until=now + dt.timedelta(days=valid_days) if valid_days else None,
        max_uses=max_uses,
        max_uses_per_customer=max_uses,
        owner=owner,
        redemption=redemption,
        source_ref=source_ref[:64],
    )


def coupons_issue_bulk(
    *,
    owner_ids: list[int],
    kind: str,
    value: Decimal,
    min_spend: Decimal = Decimal(0),
    valid_days: int = 30,
    source_ref: str = "",
    at: dt.datetime | None = None,
) -> dict[int, int]:
    """One single-use coupon per owner (a campaign's personal offer), with fresh voucher codes,
    written with one ``COPY`` in the caller's transaction. Returns owner id → coupon id."""
    if not owner_ids:
        return {}
    value, min_spend = Decimal(value), Decimal(min_spend)
    _check_terms(kind=kind, value=value, min_spend=min_spend)
    now = at or timezone.now()
    until = now + dt.timedelta(days=valid_days) if valid_days else None
    codes: set[str] = set()
    while len(codes) < len(owner_ids):  # one query, unless a code repeats (31^10 codes)
        draw = {voucher_code_generate() for _ in range(len(owner_ids) - len(codes))} - codes
        draw -= set(Coupon.objects.filter(code__in=draw).values_list("code", flat=True))
        codes |= draw
    ordered = sorted(codes)
    rows_insert(
        model=Coupon,
        columns=COUPON_COLUMNS,
        rows=[
            (
                now,
                now,
                code,
                kind,
                value,
                min_spend,
                now,
                until,
                1,
                1,
                0,
                owner_id,
                source_ref[:64],
                True,
            )
            for owner_id, code in zip(owner_ids, ordered, strict=True)
        ],
    )
    return dict(Coupon.objects.filter(code__in=ordered).values_list("owner_id", "pk"))


COUPON_COLUMNS = (
    "created_at",
    "updated_at",
    "code",
    "kind",
    "value",
    "min_spend",
    "valid_from",
    "valid_until",
    "max_uses",
    "max_uses_per_customer",
    "uses",
    "owner_id",
    "source_ref",
    "is_active",
)


@transaction.atomic
def coupon_batch_create(
    *,
    name: str = "",
    name_en: str = "",
    name_zh_hans: str = "",
    kind: str,
    value: Decimal,
    min_spend: Decimal,
    valid_from: dt.datetime | None,
    valid_until: dt.datetime | None,
    max_uses: int,
    max_uses_per_customer: int,
    size: int,
    actor: User | None,
) -> CouponBatch:
    """A batch of ``size`` (1–100,000) coupons with the same terms and distinct random codes,
    written with bulk inserts in one transaction (all or nothing); audited. Its name is content
    in both languages (``name_en``, ``name_zh_hans``; a plain ``name`` is the active one's)."""
    value, min_spend = Decimal(value), Decimal(min_spend)
    _check_terms(kind=kind, value=value, min_spend=min_spend)
    given = {"name_en": name_en, "name_zh_hans": name_zh_hans}
    names = content_input(CouponBatch, {k: v for k, v in given.items() if v} | {"name": name})
    names = {column: (names.get(column) or "").strip() for column in given}
    if not any(names.values()):
        raise ValidationFailed(_("A batch needs a name."), field="name_en")
    text_check(**names)
    if not 1 <= size <= MAX_BATCH_SIZE:
        raise ValidationFailed(
            _("A batch holds between 1 and %(n)s codes.") % {"n": f"{MAX_BATCH_SIZE:,}"}
        )
    if max_uses < 1 or max_uses_per_customer < 1:
        raise ValidationFailed(_("Limits must be at least 1."))
    valid_from = valid_from or timezone.now()
    if valid_until is not None and valid_until <= valid_from:
        raise ValidationFailed(_("The end of validity must come after its start."))
    batch = CouponBatch.objects.create(
        **names,
        kind=kind,
        value=value,
        min_spend=min_spend,
        valid_from=valid_from,
        valid_until=valid_until,
        max_uses=max_uses,
        max_uses_per_customer=max_uses_per_customer,
        size=size,
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    codes: set[str] = set()
    while len(codes) < size:  # a repeat among 2^138 codes is not expected; the set makes sure
        codes.add(coupon_code_generate())
    _insert_codes(batch=batch, codes=sorted(codes))
    audit_record(
        actor=actor,
        action="coupon_batch.create",
        target=batch,
        summary=f"{batch.name}: {size} × {batch.get_kind_display()} {value}"[:300],
        after={"size": size, "kind": kind, "value": str(value), "max_uses": max_uses},
    )
    return batch


def _insert_codes(*, batch: CouponBatch, codes: list[str]) -> None:
    """Insert the batch's coupons. On PostgreSQL one set-based INSERT … SELECT unnest(codes) per
    20,000 codes (the terms are constants); elsewhere ``bulk_create``."""
    if not is_postgres():
        Coupon.objects.bulk_create(
            (
                Coupon(
                    code=code,
                    batch=batch,
                    kind=batch.kind,
                    value=batch.value,
                    min_spend=batch.min_spend,
                    valid_from=batch.valid_from,
                    valid_until=batch.valid_until,
                    max_uses=batch.max_uses,
                    max_uses_per_customer=batch.max_uses_per_customer,
                )
                for code in codes
            ),
            batch_size=2000,
        )
        return
    now = timezone.now()
    sql = """
        INSERT INTO loyalty_coupon
            (created_at, updated_at, code, batch_id, kind, value, min_spend, valid_from,
             valid_until, max_uses, max_uses_per_customer, uses, source_ref, is_active)
        SELECT %s, %s, c, %s, %s, %s, %s, %s, %s, %s, %s, 0, '', true
        FROM unnest(%s::text[]) AS c
    """
    with connection.cursor() as cursor:
        for start in range(0, len(codes), 20_000):
            cursor.execute(
                sql,
                [
                    now,
                    now,
                    batch.pk,
                    batch.kind,
                    batch.value,
                    batch.min_spend,
                    batch.valid_from,
                    batch.valid_until,
                    batch.max_uses,
                    batch.max_uses_per_customer,
                    codes[start : start + 20_000],
                ],
            )


@transaction.atomic
def coupon_deactivate(*, coupon: Coupon, actor: User | None, reason: str = "") -> Coupon:
    """Switch a coupon off (it stays for history); audited."""
    coupon = Coupon.objects.select_for_update().get(pk=coupon.pk)
    if coupon.is_active:
        coupon.is_active = False
        coupon.save(update_fields=["is_active", "updated_at"])
        audit_record(
            actor=actor,
            action="coupon.deactivate",
            target=coupon,
            summary=reason[:300],
            before={"is_active": True},
            after={"is_active": False},
        )
    return coupon


COUPON_FIELDS = [
    "kind",
    "value",
    "min_spend",
    "valid_from",
    "valid_until",
    "max_uses",
    "max_uses_per_customer",
    "is_active",
]


@transaction.atomic
def coupon_update(*, coupon: Coupon, actor: User, **data: Any) -> Coupon:
    """Change a coupon's terms, audited as ``coupon.update``. The row is locked and ``uses`` is
    whatever redemptions made it: never written from what a form read. The terms are checked as
    for new coupons, the maximum cannot go below the uses made, and switching a coupon off goes
    through ``coupon_deactivate``."""
    unknown = set(data) - set(COUPON_FIELDS)
    if unknown:
        raise TypeError(f"Unknown coupon fields: {sorted(unknown)}")
    coupon = Coupon.objects.select_for_update().get(pk=coupon.pk)
    wanted = data.pop("is_active", None)
    switch_off = coupon.is_active and wanted is not None and not wanted
    if wanted and not coupon.is_active:
        data["is_active"] = True  # switching back on is an ordinary, audited change

    def check(instance: Coupon) -> None:
        _check_terms(kind=instance.kind, value=instance.value, min_spend=instance.min_spend)
        if instance.max_uses < instance.uses:
            raise ValidationFailed(
                _("It has been used %(n)s times already; the maximum cannot be lower.")
                % {"n": instance.uses},
                field="max_uses",
            )
        if instance.valid_until and instance.valid_until < instance.valid_from:
            raise ValidationFailed(
                _("The end of the window is before its start."), field="valid_until"
            )

    coupon = audited_update(
        instance=coupon,
        fields=COUPON_FIELDS,
        data=data,
        actor=actor,
        action="coupon.update",
        check=check,
    )
    if switch_off:
        coupon = coupon_deactivate(coupon=coupon, actor=actor, reason=_("Switched off by staff"))
    return coupon
