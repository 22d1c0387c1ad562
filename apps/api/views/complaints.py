"""Complaints from tills, shops and apps (DESIGN §6).

- ``POST /complaints/`` files a complaint for a member (``member_number``, a merged-away number
  leads to the survivor), in a category by code, optionally about an order (``store`` +
  ``order_external_id``; it must be the member's, else 400 on ``order``). The channel is
  ``api``. Idempotent with ``Idempotency-Key``: the same request again answers with the first
  ticket.
- ``GET /complaints/{reference}/`` reads its status, due times and public conversation (never
  an internal note).
"""

from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.complaints.enums import Priority, TicketChannel
from apps.complaints.member_selectors import public_messages
from apps.complaints.selectors import category_get, ticket_get
from apps.complaints.services.tickets import DESCRIPTION_MAX, SUBJECT_MAX, ticket_open
from apps.customers.selectors import customer_get, order_get

from ..idempotency import idempotent
from ..schema import COMMON_ERRORS, IDEMPOTENT_ERRORS, error
from ..serializers import JsonTypes, validated


def _message_out():
    return inline_serializer(
        name="ComplaintMessage",
        many=True,
        fields={
            "at": serializers.DateTimeField(),
            "from": serializers.ChoiceField(choices=["customer", "staff"]),
            "body": serializers.CharField(),
        },
    )


ComplaintOut = inline_serializer(
    name="Complaint",
    fields={
        "reference": serializers.CharField(help_text=_("Like C-2026-000123.")),
        "member_number": serializers.CharField(),
        "status": serializers.CharField(),
        "priority": serializers.CharField(),
        "category": serializers.CharField(help_text=_("Category code.")),
        "subject": serializers.CharField(),
        "created_at": serializers.DateTimeField(),
        "first_response_due": serializers.DateTimeField(allow_null=True),
        "resolution_due": serializers.DateTimeField(
            allow_null=True, help_text=_("Null while waiting on the customer and once resolved.")
        ),
        "resolved_at": serializers.DateTimeField(allow_null=True),
        "satisfaction": serializers.IntegerField(allow_null=True),
        "messages": _message_out(),
    },
)


def _when(value):
    return serializers.DateTimeField().to_representation(value) if value else None


def complaint_out(ticket) -> dict:
    return {
        "reference": ticket.reference,
        "member_number": ticket.customer.member_number,
        "status": ticket.status,
        "priority": ticket.priority,
        "category": ticket.category.code,
        "subject": ticket.subject,
        "created_at": _when(ticket.created_at),
        "first_response_due": _when(ticket.first_response_due)
        if not ticket.first_responded_at
        else None,
        "resolution_due": _when(ticket.resolution_due),
        "resolved_at": _when(ticket.resolved_at),
        "satisfaction": ticket.satisfaction,
        "messages": [
            {
                "at": _when(m.at),
                "from": "customer" if m.author_kind == "customer" else "staff",
                "body": m.body,
            }
            for m in public_messages(ticket=ticket)
        ],
    }


class ComplaintCreateApi(APIView):
    """File a complaint. Refusals: 400 (validation, unknown ``category``, an order that is not
    the member's), 404 ``customer_not_found``, ``store_not_found``, ``order_not_found``."""

    class Input(JsonTypes, serializers.Serializer):
        member_number = serializers.CharField(max_length=16)
        category = serializers.SlugField(max_length=60, help_text=_("Category code."))
        subject = serializers.CharField(max_length=SUBJECT_MAX)
        description = serializers.CharField(max_length=DESCRIPTION_MAX)
        priority = serializers.ChoiceField(choices=Priority.values, default=Priority.NORMAL)
        store = serializers.SlugField(max_length=32, required=False)
        order_external_id = serializers.CharField(max_length=64, required=False)

        class Meta:
            ref_name = "ComplaintCreateInput"

        def validate(self, attrs):
            if attrs.get("order_external_id") and not attrs.get("store"):
                raise serializers.ValidationError(
                    {"store": _("Give the store of the order: order ids are unique per store.")}
                )
            return attrs

    @extend_schema(
        operation_id="complaints_create",
        request=Input,
        responses={
            201: ComplaintOut,
            **COMMON_ERRORS,
            404: error("`customer_not_found`, `store_not_found` or `order_not_found`."),
            409: error("`idempotency_conflict`."),
            415: IDEMPOTENT_ERRORS[415],
            422: IDEMPOTENT_ERRORS[422],
        },
        tags=["complaints"],
    )
    @idempotent
    def post(self, request: Request) -> Response:
        data = validated(self.Input, request.data)
        customer = customer_get(member_number=data["member_number"])
        order = None
        if data.get("order_external_id"):
            order = order_get(store_code=data["store"], external_id=data["order_external_id"])
        ticket = ticket_open(
            customer=customer,
            category=category_get(code=data["category"]),
            subject=data["subject"],
            description=data["description"],
            priority=data["priority"],
            order=order,
            channel=TicketChannel.API,
        )
        ticket = ticket_get(reference=ticket.reference)
        return Response(complaint_out(ticket), status=status.HTTP_201_CREATED)


class ComplaintDetailApi(APIView):
    """A complaint's status, due times and public conversation. 404 ``ticket_not_found``."""

    @extend_schema(
        operation_id="complaints_retrieve",
        responses={200: ComplaintOut, **COMMON_ERRORS, 404: error("`ticket_not_found`.")},
        tags=["complaints"],
    )
    def get(self, request: Request, reference: str) -> Response:
        return Response(complaint_out(ticket_get(reference=reference)))
