"""Loyalty for tills, shops and apps: a member's points and ledger, the reward catalogue,
redemptions, and coupon validation and redemption (DESIGN §6).

Decisions:
- ``tier`` and ``next_tier`` are objects (``TierRef``: ``{slug, name}``; the next tier also
  carries its ``metric`` and ``threshold``), so a till can show the name without a second call.
  ``POST /orders/`` answers ``tier`` in the same ``TierRef`` shape (one representation of a
  tier across the API). ``points_to_next_tier`` keeps its DESIGN name but is what is left in
  the next tier's metric, spelled out by ``next_tier_metric``: ``spend`` (currency) or
  ``points`` (points earned from purchases).
- A redemption's ``id`` is a public reference (``RD-…``, see ``redemption_reference``), never
  the database id.
- ``POST /redemptions/``: the Idempotency-Key header, scoped to the calling API key, is also the
  redemption's own key, so a retry after the 24-hour replay window still returns the first
  redemption instead of spending twice. Reusing that key after the window for another member,
  reward or quantity is 409 ``idempotency_conflict`` and reveals nothing of the first
  redemption (within the window the stored response answers: 422 for another body). Without
  the header every request is a new redemption.
- ``GET /rewards/`` returns the whole active catalogue as a plain list (it is small and read
  as a whole by tills); with ``member_number`` every item says whether that member can redeem
  it now and, if not, why.
- ``POST /coupons/redeem/`` answers 201 with the use; the same order again (same store and
  external id) returns the first use and counts nothing more.
"""

import hashlib
import uuid
from decimal import Decimal

from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.customers.selectors import customer_get, store_get
from apps.loyalty.describe import MEMBER, describe
from apps.loyalty.exceptions import CouponInvalid
from apps.loyalty.selectors import (
    account_get,
    points_summary,
    reward_get,
    reward_list_available,
    reward_offers_for_member,
    transaction_list,
)
from apps.loyalty.services import coupon_redeem, coupon_validate, reward_redeem

from ..errors import error_response
from ..idempotency import HEADER, idempotent
from ..pagination import CursorPagination
from ..schema import (
    COMMON_ERRORS,
    IDEMPOTENT_ERRORS,
    CouponInvalidSerializer,
    error,
    paginated,
)
from ..serializers import (
    CouponCheckOut,
    CouponUseOut,
    DecimalField,
    JsonTypes,
    PointsOut,
    PointsTransactionOut,
    RedemptionOut,
    RewardOfferOut,
    RewardOut,
    coupon_use_out,
    points_out,
    redemption_out,
    validated,
)
from ..throttling import ApiKeyThrottle, CouponCheckThrottle

# Redemption.idempotency_key holds 120 characters; longer client keys are hashed.
REDEMPTION_KEY_RAW_MAX = 80


class TransactionCursorPagination(CursorPagination):
    ordering = ("-created_at",)


class PointsApi(APIView):
    """Balance, pending points, tier, what is left to the next tier and what expires soon."""

    @extend_schema(
        operation_id="customers_points_retrieve",
        responses={200: PointsOut, **COMMON_ERRORS, 404: error("`customer_not_found`.")},
        tags=["loyalty"],
    )
    def get(self, request: Request, member_number: str) -> Response:
        customer = customer_get(member_number=member_number)
        return Response(points_out(points_summary(customer=customer)))


class PointsTransactionListApi(APIView):
    """The member's points ledger, newest first, cursor-paginated."""

    @extend_schema(
        operation_id="customers_points_transactions_list",
        responses={
            200: paginated(PointsTransactionOut, name="PaginatedPointsTransactionList"),
            **COMMON_ERRORS,
            404: error("`customer_not_found`."),
        },
        tags=["loyalty"],
    )
    def get(self, request: Request, member_number: str) -> Response:
        customer = customer_get(member_number=member_number)
        paginator = TransactionCursorPagination()
        page = paginator.paginate_queryset(transaction_list(customer=customer), request, view=self)
        # Each row in words, in the caller's Accept-Language (the same words as the portal).
        words = {line.tx.pk: line.text for line in describe(page, audience=MEMBER)}
        out = PointsTransactionOut(page, many=True, context={"descriptions": words})
        return paginator.get_paginated_response(out.data)


class RewardListApi(APIView):
    """The active reward catalogue, cheapest first. With ``member_number``: ``eligible`` and
    ``reason`` for that member (tier, per-member limit, stock, points)."""

    class Query(serializers.Serializer):
        member_number = serializers.CharField(
            max_length=16,
            required=False,
            allow_blank=True,
            help_text=_("Say for this member whether each reward can be redeemed now."),
        )

    @extend_schema(
        operation_id="rewards_list",
        parameters=[Query],
        responses={
            200: RewardOfferOut(many=True),
            **COMMON_ERRORS,
            404: error("`customer_not_found`."),
        },
        tags=["loyalty"],
    )
    def get(self, request: Request) -> Response:
        query = validated(self.Query, request.query_params)
        context = {"request": request}
        if not query.get("member_number"):
            rows = RewardOut(reward_list_available(), many=True, context=context).data
            return Response([{**row, "eligible": None, "reason": None} for row in rows])
        customer = customer_get(member_number=query["member_number"])
        return Response(
            [
                {
                    **RewardOut(offer.reward, context=context).data,
                    "eligible": offer.can_redeem,
                    "reason": offer.reason,
                }
                for offer in reward_offers_for_member(customer=customer)
            ]
        )


def redemption_key(request: Request) -> str:
    """The redemption's idempotency key: the client's Idempotency-Key scoped to its API key,
    or a fresh one per request when the header is absent."""
    raw = (request.headers.get(HEADER) or "").strip()
    if not raw:
        return f"api:{uuid.uuid4().hex}"
    if len(raw) > REDEMPTION_KEY_RAW_MAX:
        raw = "sha256:" + hashlib.sha256(raw.encode()).hexdigest()
    return f"api:{request.auth.pk}:{raw}"


class RedemptionCreateApi(APIView):
    """Redeem a reward for a member: points are spent (soonest-expiring first) and stock taken
    in one transaction. Refusals change nothing: 409 `insufficient_points`, `out_of_stock`,
    `limit_reached` (per-member limit) or `not_eligible` (tier, availability window)."""

    class Input(JsonTypes, serializers.Serializer):
        member_number = serializers.CharField(max_length=16)
        reward = serializers.SlugField(max_length=60, help_text=_("Reward code."))
        quantity = serializers.IntegerField(min_value=1, max_value=100, default=1)
        pickup_store = serializers.SlugField(
            max_length=32,
            required=False,
            help_text=_("Gifts and experiences: code of the store where the member collects it."),
        )
        delivery_address = serializers.CharField(
            max_length=500,
            required=False,
            allow_blank=True,
            trim_whitespace=True,
            help_text=_("Gifts and experiences: where to deliver it (instead of a store)."),
        )

        class Meta:
            ref_name = "RedemptionCreateInput"

    @extend_schema(
        operation_id="redemptions_create",
        request=Input,
        responses={
            201: RedemptionOut,
            **COMMON_ERRORS,
            404: error("`customer_not_found`, `reward_not_found` or `store_not_found`."),
            409: error(
                "`insufficient_points`, `out_of_stock`, `limit_reached`, `not_eligible`; "
                "`idempotency_conflict` (a request with this Idempotency-Key is still running, "
                "or the key was used after the replay window for another member, reward or "
                "quantity)."
            ),
            415: IDEMPOTENT_ERRORS[415],
            422: IDEMPOTENT_ERRORS[422],
        },
        tags=["loyalty"],
    )
    @idempotent
    def post(self, request: Request) -> Response:
        data = validated(self.Input, request.data)
        customer = customer_get(member_number=data["member_number"])
        redemption = reward_redeem(
            customer=customer,
            reward=reward_get(slug=data["reward"]),
            quantity=data["quantity"],
            key=redemption_key(request),
            channel="api",
            pickup_store=store_get(code=data["pickup_store"]) if data.get("pickup_store") else None,
            delivery_address=data.get("delivery_address", ""),
        )
        account = account_get(customer=customer)
        return Response(
            redemption_out(redemption, balance=account.balance), status=status.HTTP_201_CREATED
        )


class CouponValidateApi(APIView):
    """Whether a coupon can be used now on an order of ``order_total`` (by ``member_number`` if
    given) and the discount it gives. Reads only: an unusable coupon is 200 with
    ``valid: false`` and the reason. Rate-limited per key and member (429 ``throttled``)."""

    throttle_classes = [ApiKeyThrottle, CouponCheckThrottle]

    class Input(JsonTypes, serializers.Serializer):
        code = serializers.CharField(max_length=60)
        member_number = serializers.CharField(max_length=16, required=False, allow_blank=True)
        order_total = DecimalField(max_digits=12, decimal_places=2, min_value=Decimal(0))

        class Meta:
            ref_name = "CouponValidateInput"

    @extend_schema(
        operation_id="coupons_validate",
        request=Input,
        responses={
            200: CouponCheckOut,
            **COMMON_ERRORS,
            404: error("`customer_not_found`."),
            **IDEMPOTENT_ERRORS,
        },
        tags=["loyalty"],
    )
    @idempotent
    def post(self, request: Request) -> Response:
        data = validated(self.Input, request.data)
        customer = (
            customer_get(member_number=data["member_number"]) if data.get("member_number") else None
        )
        check = coupon_validate(
            code=data["code"], customer=customer, order_total=data["order_total"]
        )
        return Response(
            CouponCheckOut(
                {
                    "valid": check.valid,
                    "discount": check.discount,
                    "reason": check.reason,
                    "reason_code": check.reason_code,
                }
            ).data
        )


class CouponRedeemApi(APIView):
    """Use a coupon on an order, atomically: usage limits hold under concurrent requests. The
    same order (store and external id) again returns the first use. When ``order_total`` is
    omitted, the recorded order's total is used. A refusal is 409 `coupon_invalid` with a
    stable ``reason`` and writes nothing."""

    class Input(JsonTypes, serializers.Serializer):
        code = serializers.CharField(max_length=60)
        member_number = serializers.CharField(max_length=16, required=False, allow_blank=True)
        order_external_id = serializers.CharField(max_length=64)
        store = serializers.SlugField(max_length=32, help_text=_("Store code."))
        order_total = DecimalField(
            max_digits=12, decimal_places=2, min_value=Decimal(0), required=False
        )

        class Meta:
            ref_name = "CouponRedeemInput"

    @extend_schema(
        operation_id="coupons_redeem",
        request=Input,
        responses={
            201: CouponUseOut,
            **COMMON_ERRORS,
            404: error("`customer_not_found` or `store_not_found`."),
            409: OpenApiResponse(
                response=CouponInvalidSerializer,
                description="`coupon_invalid` (with `reason`); `idempotency_conflict`.",
            ),
            415: IDEMPOTENT_ERRORS[415],
            422: IDEMPOTENT_ERRORS[422],
        },
        tags=["loyalty"],
    )
    @idempotent
    def post(self, request: Request) -> Response:
        data = validated(self.Input, request.data)
        customer = (
            customer_get(member_number=data["member_number"]) if data.get("member_number") else None
        )
        store = store_get(code=data["store"])
        try:
            use = coupon_redeem(
                code=data["code"],
                customer=customer,
                store=store,
                order_external_id=data["order_external_id"],
                order_total=data.get("order_total"),
            )
        except CouponInvalid as exc:
            return error_response(
                exc.code, exc.message, exc.status, reason=exc.extra.get("reason", "")
            )
        member_number = (
            customer.member_number
            if customer is not None
            else (use.customer.member_number if use.customer_id else None)
        )
        return Response(
            coupon_use_out(use, code=use.coupon.code, member_number=member_number),
            status=status.HTTP_201_CREATED,
        )
