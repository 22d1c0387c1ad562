"""Customers: look up, list, enrol, read and update members by member number."""

from django.urls import reverse
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.customers.enums import ConsentPurpose, Source
from apps.customers.selectors import customer_get, customer_list_for_api, store_get
from apps.customers.services import customer_update
from apps.loyalty.services import customer_enrol_referred

from ..idempotency import idempotent
from ..pagination import CustomerCursorPagination
from ..schema import COMMON_ERRORS, IDEMPOTENT_ERRORS, error, paginated
from ..serializers import (
    ChannelField,
    CustomerOut,
    CustomerProfileIn,
    JsonTypes,
    phone_field_validate,
    validated,
)


class CustomerListApi(APIView):
    """``GET``: exact lookup by ``email``, ``phone`` (any format) or ``member_number``; without
    a parameter every member, newest first, cursor-paginated. ``POST``: enrol a member."""

    class Query(serializers.Serializer):
        email = serializers.CharField(max_length=254, required=False, allow_blank=True)
        phone = serializers.CharField(max_length=32, required=False, allow_blank=True)
        member_number = serializers.CharField(max_length=16, required=False, allow_blank=True)

        def validate_phone(self, value: str) -> str:
            # A lookup, not an input: what is no phone number matches nobody (stored phones
            # are E.164), so the answer is an empty list rather than a refusal.
            try:
                return phone_field_validate(value)
            except serializers.ValidationError:
                return value

    class Input(CustomerProfileIn):
        class ConsentIn(JsonTypes, serializers.Serializer):
            channel = ChannelField()
            purpose = serializers.ChoiceField(choices=ConsentPurpose.choices)
            granted = serializers.BooleanField()

        consents = ConsentIn(many=True, required=False)
        referral_code = serializers.CharField(
            max_length=20,
            required=False,
            allow_blank=True,
            help_text=_(
                "A member's referral code: both earn the referral bonus on this member's first "
                "purchase. A code that cannot be used is 409 `not_eligible` and nobody is enrolled."
            ),
        )

        class Meta(CustomerProfileIn.Meta):
            ref_name = "CustomerCreateInput"
            fields = [*CustomerProfileIn.Meta.fields, "consents", "referral_code"]

    @extend_schema(
        operation_id="customers_list",
        parameters=[Query],
        responses={200: paginated(CustomerOut, name="PaginatedCustomerList"), **COMMON_ERRORS},
        tags=["customers"],
    )
    def get(self, request: Request) -> Response:
        filters = validated(self.Query, request.query_params)
        qs = customer_list_for_api(**filters)
        paginator = CustomerCursorPagination()
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(CustomerOut(page, many=True).data)

    @extend_schema(
        operation_id="customers_create",
        request=Input,
        responses={
            201: CustomerOut,
            **COMMON_ERRORS,
            404: error("`store_not_found`."),
            409: error(
                "`already_enrolled` (an active member has this e-mail or phone: the message names "
                "their member number); `not_eligible` (the referral code cannot be used for this "
                "member); "
                "`idempotency_conflict` (a request with this Idempotency-Key is still running)."
            ),
            415: IDEMPOTENT_ERRORS[415],
            422: IDEMPOTENT_ERRORS[422],
        },
        tags=["customers"],
    )
    @idempotent
    def post(self, request: Request) -> Response:
        data = dict(validated(self.Input, request.data))
        consents = [(c["channel"], c["purpose"], c["granted"]) for c in data.pop("consents", [])]
        referral_code = data.pop("referral_code", "").strip()
        if "store" in data:
            data["store"] = store_get(code=data["store"])
        customer = customer_enrol_referred(
            referral_code=referral_code,
            contact_unique=True,
            source=Source.API,
            consents=consents,
            consent_source=f"api:{request.auth.name}"[:40],
            **data,
        )
        return Response(CustomerOut(customer).data, status=status.HTTP_201_CREATED)


def _canonical(response: Response, request: Request, asked: str, customer) -> Response:
    """A merged-away member number answers with its survivor (an old card keeps working at the
    till); ``Content-Location`` names the survivor's own URL, and the body's ``member_number``
    is the survivor's, so the till can update the card."""
    if customer.member_number != asked:
        response["Content-Location"] = request.build_absolute_uri(
            reverse("api:customer-detail", kwargs={"member_number": customer.member_number})
        )
    return response


class CustomerDetailApi(APIView):
    """One member by member number: read, or change profile fields (PATCH, partial). The member
    number of a customer merged into another one leads to the survivor: the answer is the
    survivor's, with its URL in ``Content-Location``."""

    class Input(CustomerProfileIn):
        class Meta(CustomerProfileIn.Meta):
            ref_name = "CustomerUpdateInput"

    @extend_schema(
        operation_id="customers_retrieve",
        responses={200: CustomerOut, **COMMON_ERRORS, 404: error("`customer_not_found`.")},
        tags=["customers"],
    )
    def get(self, request: Request, member_number: str) -> Response:
        customer = customer_get(member_number=member_number)
        return _canonical(Response(CustomerOut(customer).data), request, member_number, customer)

    @extend_schema(
        operation_id="customers_partial_update",
        request=Input,
        responses={
            200: CustomerOut,
            **COMMON_ERRORS,
            404: error("`customer_not_found` or `store_not_found`."),
            415: IDEMPOTENT_ERRORS[415],
        },
        tags=["customers"],
    )
    def patch(self, request: Request, member_number: str) -> Response:
        customer = customer_get(member_number=member_number)
        data = dict(validated(self.Input, request.data, context={"customer": customer}))
        if "store" in data:
            data["store"] = store_get(code=data["store"])
        customer = customer_update(customer=customer, actor=None, **data)
        return _canonical(Response(CustomerOut(customer).data), request, member_number, customer)
