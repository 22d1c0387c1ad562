"""Orders and refunds from tills, shops and apps: recorded once, points earned and clawed back
once, whatever the retries (invariant 2)."""

from decimal import Decimal

from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.customers.models import Order, Refund
from apps.customers.selectors import customer_get, order_get, store_get
from apps.customers.services import order_lines_problem, order_placed_at_problem
from apps.loyalty.models import PointsTransaction
from apps.loyalty.selectors import account_get
from apps.loyalty.services import EarnOutcome, order_ingest, refund_ingest

from ..idempotency import idempotent
from ..schema import COMMON_ERRORS, IDEMPOTENT_ERRORS, error
from ..serializers import (
    DecimalField,
    JsonTypes,
    OrderChannelField,
    OrderStatusField,
    TierRefOut,
    tier_ref,
    validated,
)

OrderResultOut = inline_serializer(
    name="OrderResult",
    fields={
        "external_id": serializers.CharField(),
        "points_earned": serializers.IntegerField(
            help_text=_("Points credited now (0 while they are pending).")
        ),
        "points_pending": serializers.IntegerField(
            help_text=_("Points waiting for the return window to pass.")
        ),
        "balance": serializers.IntegerField(help_text=_("Spendable points of the member now.")),
        "tier": TierRefOut(
            allow_null=True,
            help_text=_("The member's tier after this order, as in the points summary, or null."),
        ),
    },
)

RefundResultOut = inline_serializer(
    name="RefundResult",
    fields={
        "refund_id": serializers.CharField(),
        "amount": DecimalField(max_digits=12, decimal_places=2),
        "order_status": OrderStatusField(),
        "refunded_total": DecimalField(max_digits=12, decimal_places=2),
        "points_reversed": serializers.IntegerField(),
        "balance": serializers.IntegerField(),
    },
)


def order_result(*, order: Order, outcome: EarnOutcome) -> dict:
    """The body of ``POST /orders/``, first time and on a repeat: the one place that turns the
    loyalty engine's outcome into the API's shape."""
    return {
        "external_id": order.external_id,
        "points_earned": outcome.points_earned,
        "points_pending": outcome.points_pending,
        "balance": outcome.balance,
        "tier": tier_ref(outcome.tier),
    }


def refund_result(*, order: Order, refund: Refund, clawback: PointsTransaction | None) -> dict:
    """The body of ``POST /orders/{store}/{external_id}/refunds/``: the refund, the order's
    state after it, the points it reversed (pending and available) and the member's balance."""
    account = account_get(customer=order.customer) if order.customer_id else None
    reversed_points = -(clawback.points + clawback.pending_points) if clawback else 0
    return {
        "refund_id": refund.refund_id,
        "amount": f"{refund.amount:.2f}",
        "order_status": order.status,
        "refunded_total": f"{order.refunded_amount:.2f}",
        "points_reversed": reversed_points,
        "balance": account.balance if account is not None else 0,
    }


class OrderCreateApi(APIView):
    """Record an order and earn its points.

    The order is identified by (store, external_id): posting it again, with or without an
    Idempotency-Key, records nothing more, earns nothing more and answers 200 with the first
    result. The same id with other data (member, time, amounts, coupon, channel, lines) is 409
    ``order_conflict`` and changes nothing. The body comes from ``order_result`` (points as
    decided by the loyalty engine, ``apps.loyalty.services.order_ingest``).

    Lines are optional. When given, Σ quantity × unit_price − discount must equal ``total``
    within 0.01, otherwise 400 ``validation_error`` on ``lines``: earn rules per category or
    SKU spread the paid total over the lines, so the lines must describe the same money."""

    class Input(JsonTypes, serializers.Serializer):
        class LineIn(JsonTypes, serializers.Serializer):
            sku = serializers.CharField(max_length=64)
            name = serializers.CharField(max_length=200, required=False, default="")
            category = serializers.CharField(max_length=80, required=False, default="")
            quantity = DecimalField(
                max_digits=10, decimal_places=3, min_value=Decimal("0.001"), default=Decimal(1)
            )
            unit_price = DecimalField(max_digits=12, decimal_places=2, min_value=Decimal(0))

        external_id = serializers.CharField(max_length=64)
        member_number = serializers.CharField(max_length=16)
        store = serializers.SlugField(max_length=32, help_text=_("Store code."))
        placed_at = serializers.DateTimeField()
        total = DecimalField(
            max_digits=12,
            decimal_places=2,
            min_value=Decimal(0),
            help_text=_("Amount paid, after discount."),
        )
        channel = OrderChannelField(required=False)
        discount = DecimalField(
            max_digits=12, decimal_places=2, min_value=Decimal(0), default=Decimal(0)
        )
        coupon_code = serializers.CharField(max_length=40, required=False, default="")
        lines = LineIn(many=True, required=False, max_length=1000)

        class Meta:
            ref_name = "OrderCreateInput"

        def validate(self, attrs):
            # The customers service's rules, reported on the field before anything runs.
            if problem := order_placed_at_problem(attrs["placed_at"]):
                raise serializers.ValidationError({"placed_at": problem})
            problem = order_lines_problem(
                total=attrs["total"], discount=attrs["discount"], lines=attrs.get("lines") or []
            )
            if problem:
                raise serializers.ValidationError({"lines": problem})
            return attrs

    @extend_schema(
        operation_id="orders_create",
        request=Input,
        responses={
            201: OrderResultOut,
            200: OrderResultOut,
            **COMMON_ERRORS,
            404: error("`customer_not_found` or `store_not_found`."),
            **IDEMPOTENT_ERRORS,
            409: error(
                "`order_conflict`: this external id is already recorded at this store with "
                "other data; or `idempotency_conflict`: a request with this Idempotency-Key is "
                "still running."
            ),
        },
        tags=["orders"],
    )
    @idempotent
    def post(self, request: Request) -> Response:
        data = validated(self.Input, request.data)
        customer = customer_get(member_number=data["member_number"])
        store = store_get(code=data["store"])
        order, created, outcome = order_ingest(
            store=store,
            external_id=data["external_id"],
            customer=customer,
            placed_at=data["placed_at"],
            total=data["total"],
            channel=data.get("channel", ""),
            discount=data["discount"],
            coupon_code=data["coupon_code"],
            lines=data.get("lines", []),
        )
        return Response(
            order_result(order=order, outcome=outcome),
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class RefundCreateApi(APIView):
    """Refund part or all of an order and claw back its points in proportion.

    Once per ``refund_id``: the same refund again answers 200 with the same body and reverses
    nothing more; the same ``refund_id`` with another amount is 409 ``idempotency_conflict``;
    more than what remains refundable is 409 ``refund_exceeds_order``. The order row is locked
    while a refund is recorded, so concurrent refunds never exceed the order's total.
    The clawback runs after the refund is recorded and is itself once per refund, so a retry
    after a failure between the two completes it."""

    class Input(JsonTypes, serializers.Serializer):
        refund_id = serializers.CharField(max_length=64)
        amount = DecimalField(max_digits=12, decimal_places=2, min_value=Decimal("0.01"))
        reason = serializers.CharField(max_length=200, required=False, default="")

        class Meta:
            ref_name = "RefundCreateInput"

    @extend_schema(
        operation_id="orders_refunds_create",
        request=Input,
        responses={
            201: RefundResultOut,
            200: RefundResultOut,
            **COMMON_ERRORS,
            404: error("`order_not_found`."),
            409: error(
                "`refund_exceeds_order`; `idempotency_conflict` (this refund_id was used with "
                "another amount, or a request with this Idempotency-Key is still running)."
            ),
            415: IDEMPOTENT_ERRORS[415],
            422: IDEMPOTENT_ERRORS[422],
        },
        tags=["orders"],
    )
    @idempotent
    def post(self, request: Request, store: str, external_id: str) -> Response:
        order = order_get(store_code=store, external_id=external_id)
        data = validated(self.Input, request.data)
        refund, created, clawback = refund_ingest(
            order=order, refund_id=data["refund_id"], amount=data["amount"], reason=data["reason"]
        )
        order = order_get(store_code=store, external_id=external_id)
        return Response(
            refund_result(order=order, refund=refund, clawback=clawback),
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )
