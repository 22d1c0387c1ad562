"""Orders and refunds: recorded once per external id, whatever the retries (invariant 2)."""

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.core import events
from apps.core.db import is_postgres
from apps.core.exceptions import Conflict, ValidationFailed
from apps.core.rows import insert_parts, mark_saved

from ..enums import OrderStatus
from ..exceptions import IdempotencyConflict, RefundExceedsOrder
from ..models import Customer, Order, OrderLine, Refund, Store

LINES_TOLERANCE = Decimal("0.01")
# How far ahead an order may be placed (till clocks); how far back is ORDER_HISTORY_YEARS.
ORDER_CLOCK_SKEW = dt.timedelta(days=1)


def order_placed_at_problem(placed_at: dt.datetime, *, now: dt.datetime | None = None) -> str:
    """Why an order cannot have been placed at ``placed_at``, or "": within the last
    ``ORDER_HISTORY_YEARS`` (20 unless set) and not more than a day ahead (a till's clock may be
    off; year 1 or 9999 is a typo). The one place of this rule for ``order_record``, the API
    and the imports."""
    now = now or timezone.now()
    years = min(settings.ORDER_HISTORY_YEARS, 200)
    if placed_at < now - dt.timedelta(days=366 * years):
        return _("The order is dated more than %(years)s years ago.") % {"years": years}
    if placed_at > now + ORDER_CLOCK_SKEW:
        return _("The order is dated in the future.")
    return ""


CENT = Decimal("0.01")


def order_lines_problem(*, total: Decimal, discount: Decimal, lines: Iterable[dict]) -> str:
    """Why the lines do not describe the order's money, or "" when they do (or there are none).
    Σ quantity × unit_price − discount must equal ``total`` within 0.01: earn rules per category
    or SKU spread the paid total over the lines. The one place of this rule: ``order_record``
    refuses such an order, the API and the importers say so on their field or row."""
    lines = list(lines)
    if not lines:
        return ""
    gross = sum((ln.get("quantity", Decimal(1)) * ln["unit_price"] for ln in lines), Decimal(0))
    if abs(gross - discount - total) <= LINES_TOLERANCE:
        return ""
    return _(
        "The lines add up to %(gross)s, less the discount %(discount)s makes %(net)s, not the "
        "total %(total)s."
    ) % {
        "gross": gross.quantize(CENT),
        "discount": discount.quantize(CENT),
        "net": (gross - discount).quantize(CENT),
        "total": total.quantize(CENT),
    }


def order_record(
    *,
    store: Store,
    external_id: str,
    customer: Customer | None,
    placed_at: dt.datetime,
    total: Decimal,
    channel: str = "",
    discount: Decimal = Decimal(0),
    coupon_code: str = "",
    lines: Iterable[dict] = (),
) -> tuple[Order, bool]:
    """Record an order once per (store, external_id). Returns (order, created); the same order
    again returns the first one untouched, also when two requests race (the unique key decides).
    The same id with different data (customer, time, amounts, coupon, channel or lines) is a
    409 ``order_conflict`` and writes nothing: a recorded order is never rewritten, its points
    depend on it. Lines that do not add up to the total are refused (``order_lines_problem``)."""
    if total < 0 or discount < 0:
        raise ValidationFailed(_("Amounts cannot be negative."))
    lines = list(lines)
    if problem := order_placed_at_problem(placed_at):
        raise ValidationFailed(problem, field="placed_at")
    problem = order_lines_problem(total=total, discount=discount, lines=lines)
    # A retry of a recorded order with other data is answered as the conflict it is, below.
    if problem and not Order.objects.filter(store=store, external_id=external_id).exists():
        raise ValidationFailed(problem, field="lines")
    # PostgreSQL, a member's order: one statement (``_order_insert_fast``). Nothing written
    # means the order is recorded already (the usual reason) or the customer was merged away:
    # the general path below sorts out which.
    order = Order(
        store=store,
        external_id=external_id,
        customer=customer,
        placed_at=placed_at,
        total=total,
        discount=discount,
        coupon_code=coupon_code,
        **({"channel": channel} if channel else {}),
    )
    existing = None
    if customer is not None and is_postgres():
        with transaction.atomic(savepoint=False):
            if _order_insert_fast(order, lines=lines):
                _order_recorded(order)
                return order, True
        existing = Order.objects.filter(store=store, external_id=external_id).first()
    if existing is None:
        try:
            with transaction.atomic():
                order.save(force_insert=True)
                if customer is not None:
                    # Locked after the insert, so a repeated order (refused by the unique key
                    # above) costs no lock.
                    survivor = _customer_for_order(customer)
                    if survivor.pk != customer.pk:
                        order.customer = customer = survivor
                        order.save(update_fields=["customer", "updated_at"])
                OrderLine.objects.bulk_create(_order_line(order, line) for line in lines)
                _order_recorded(order)
                return order, True
        except IntegrityError:
            existing = Order.objects.filter(store=store, external_id=external_id).first()
            if existing is None:
                raise
    if customer is not None and existing.customer_id not in (None, customer.pk):
        # The order's customer may since have been merged into the survivor that now holds
        # the order: the same customer, not a conflict.
        customer = _customer_resolved(customer)
    differs = _order_differences(
        existing,
        customer=customer,
        placed_at=placed_at,
        total=total,
        channel=channel,
        discount=discount,
        coupon_code=coupon_code,
        lines=lines,
    )
    if differs:
        raise Conflict(
            _(
                "Order “%(id)s” is already recorded at this store with a different %(fields)s. "
                "A recorded order is never changed: post a refund, or use a new external id."
            )
            % {"id": external_id, "fields": ", ".join(_difference_label(n) for n in differs)},
            code="order_conflict",
        )
    return existing, False


def _order_recorded(order: Order) -> None:
    events.publish(
        "order.recorded",
        order_id=order.pk,
        customer_id=order.customer_id,
        store_id=order.store_id,
    )


def _order_line(order: Order | None, line: dict) -> OrderLine:
    return OrderLine(
        order=order,
        sku=line["sku"],
        name=line.get("name", ""),
        category=line.get("category", ""),
        quantity=line.get("quantity", Decimal(1)),
        unit_price=line["unit_price"],
    )


def _order_insert_fast(order: Order, *, lines: list[dict]) -> bool:
    """The usual case in one statement (PostgreSQL): the customer row locked as
    ``_customer_for_order`` locks it and still a customer of its own (not merged away), the
    unsaved ``order`` inserted unless (store, external_id) is taken, and its lines. False when
    any of that does not hold: the caller takes the general path, which finds the recorded
    order or the merge's survivor."""
    columns, values = insert_parts(order)
    line_rows = [_order_line(None, line) for line in lines]
    line_columns = ["sku", "name", "category", "quantity", "unit_price"]
    arrays = [
        [OrderLine._meta.get_field(name).get_db_prep_save(getattr(ln, name), connection)
         for ln in line_rows]
        for name in line_columns
    ]  # fmt: skip
    # Column names come from the model's metadata; every value is a bound parameter.
    sql = (
        "WITH c AS (SELECT id FROM customers_customer WHERE id = %s AND merged_into_id IS NULL"  # noqa: S608 (identifiers from model metadata, values bound)  # nosec B608
        " FOR NO KEY UPDATE),"
        f" o AS (INSERT INTO customers_order ({', '.join(columns)})"
        f" SELECT {', '.join(['%s'] * len(values))} FROM c"
        " ON CONFLICT (store_id, external_id) DO NOTHING RETURNING id),"
        " l AS (INSERT INTO customers_orderline (order_id, sku, name, category, quantity,"
        " unit_price) SELECT o.id, x.sku, x.name, x.category, x.quantity, x.unit_price FROM o,"
        " unnest(%s::varchar[], %s::varchar[], %s::varchar[], %s::numeric[], %s::numeric[])"
        " AS x(sku, name, category, quantity, unit_price))"
        " SELECT id FROM o"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [order.customer_id, *values, *arrays])
        row = cursor.fetchone()
    if row is None:
        return False
    mark_saved(order, row[0])
    return True


def _customer_resolved(customer: Customer) -> Customer:
    fresh = Customer.objects.filter(pk=customer.pk).first()
    while fresh is not None and fresh.merged_into_id is not None:
        fresh = Customer.objects.filter(pk=fresh.merged_into_id).first()
    return fresh or customer


def _customer_for_order(customer: Customer) -> Customer:
    """The customer row locked (FOR NO KEY UPDATE, which inserting an order for it does not
    take, but a merge holds), then the survivor if it was merged: an order posted while its
    customer is being merged waits for the merge and moves to the survivor, never stays on the
    merged-away customer whose points have just been moved out."""
    locked = Customer.objects.select_for_update(no_key=True).get(pk=customer.pk)
    if locked.merged_into_id is None:
        return customer
    return _customer_for_order(Customer.objects.get(pk=locked.merged_into_id))


def _difference_label(name: str) -> str:
    """What an order conflict calls a differing field: its translated label."""
    if name == "lines":
        return _("order lines")
    return str(Order._meta.get_field(name).verbose_name)


def _order_differences(
    order: Order,
    *,
    customer: Customer | None,
    placed_at: dt.datetime,
    total: Decimal,
    channel: str,
    discount: Decimal,
    coupon_code: str,
    lines: Iterable[dict],
) -> list[str]:
    """The fields in which a posted order differs from the recorded ``order`` (empty: the same
    order again). An empty ``channel`` means the default, as when the order was created."""
    channel = channel or Order._meta.get_field("channel").default
    differs = [
        name
        for name, same in (
            ("customer", order.customer_id == (customer.pk if customer is not None else None)),
            ("placed_at", order.placed_at == placed_at),
            ("total", order.total == total),
            ("discount", order.discount == discount),
            ("coupon_code", order.coupon_code == coupon_code),
            ("channel", order.channel == channel),
        )
        if not same
    ]
    posted = sorted(
        (
            line["sku"],
            line.get("name", ""),
            line.get("category", ""),
            Decimal(line.get("quantity", 1)),
            Decimal(line["unit_price"]),
        )
        for line in lines
    )
    recorded = sorted(order.lines.values_list("sku", "name", "category", "quantity", "unit_price"))
    if posted != recorded:
        differs.append("lines")
    return differs


def refund_record(
    *,
    order: Order,
    refund_id: str,
    amount: Decimal,
    reason: str = "",
    at: dt.datetime | None = None,
) -> tuple[Refund, bool]:
    """Record a refund once per (order, refund_id). The order row is locked so concurrent refunds
    cannot together exceed its total. Same id with another amount is a conflict."""
    if amount <= 0:
        raise ValidationFailed(_("A refund amount must be positive."))
    try:
        with transaction.atomic():
            locked = Order.objects.select_for_update().get(pk=order.pk)
            existing = Refund.objects.filter(order=locked, refund_id=refund_id).first()
            if existing is not None:
                if existing.amount != amount:
                    raise IdempotencyConflict()
                return existing, False
            if amount > locked.refundable:
                raise RefundExceedsOrder(refundable=str(locked.refundable))
            refund = Refund.objects.create(
                order=locked,
                refund_id=refund_id,
                amount=amount,
                reason=reason,
                at=at or timezone.now(),
            )
            refunded = locked.refunded_amount + amount
            status = (
                OrderStatus.REFUNDED if refunded >= locked.total else OrderStatus.PARTIALLY_REFUNDED
            )
            Order.objects.filter(pk=locked.pk).update(
                refunded_amount=F("refunded_amount") + amount, status=status
            )
            events.publish("refund.recorded", refund_id=refund.pk, order_id=locked.pk)
            return refund, True
    except IntegrityError:
        existing = Refund.objects.filter(order=order, refund_id=refund_id).first()
        if existing is None:
            raise
        if existing.amount != amount:
            raise IdempotencyConflict() from None
        return existing, False
