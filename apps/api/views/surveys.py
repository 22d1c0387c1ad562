"""Survey links for tills, shops and apps (DESIGN §6): a receipt link to print as a QR code.

Decisions:
- ``POST /surveys/{slug}/invitations/`` takes ``member_number``, ``order_external_id`` and
  ``store``, all optional. Without a member (and without an order that has one) the link is
  anonymous. ``order_external_id`` needs ``store`` (orders are identified by store and external
  id); ``store`` alone records where the receipt was printed.
- A member number follows a merge to the surviving member, as everywhere in the API; so does
  the member of an order. When both a member and an order are given, the order must be that
  member's (or have no member): otherwise 409 ``order_member_mismatch`` and nothing is written.
- A reprint of the same order gives the same link: 201 when this request made the link, 200
  when it answers with the link made before (as ``POST /orders/`` does for a repeat).
- A member who cannot be asked now (within the programme's cooldown, anonymised) is 409
  ``not_eligible`` with the reason in the message; the service keeps that skip recorded (with
  its reason) on purpose, so the survey's funnel shows who was not asked and why.
"""

from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.customers.selectors import customer_get, order_get, store_get
from apps.surveys.selectors import survey_get
from apps.surveys.services.invitations import receipt_link, survey_link

from ..idempotency import idempotent
from ..schema import COMMON_ERRORS, IDEMPOTENT_ERRORS, error
from ..serializers import JsonTypes, validated

SurveyLinkOut = inline_serializer(
    name="SurveyLink",
    fields={
        "url": serializers.URLField(help_text=_("The survey link to print (as a QR code).")),
        "token_expires_at": serializers.DateTimeField(
            help_text=_("When the link stops accepting answers.")
        ),
    },
)


class SurveyInvitationCreateApi(APIView):
    """A receipt link to survey ``slug``. Refusals: 404 ``not_found`` (no such survey),
    ``customer_not_found``, ``store_not_found``, ``order_not_found``; 409 ``survey_closed``
    (the survey is not live), ``not_eligible`` (the member was asked too recently or cannot be
    asked; the message says why), ``order_member_mismatch``."""

    class Input(JsonTypes, serializers.Serializer):
        member_number = serializers.CharField(
            max_length=16,
            required=False,
            allow_blank=True,
            help_text=_("The member on the receipt; omit (or leave empty) for an anonymous link."),
        )
        order_external_id = serializers.CharField(
            max_length=64,
            required=False,
            help_text=_("The order on the receipt; needs store. A reprint gives the same link."),
        )
        store = serializers.SlugField(
            max_length=32,
            required=False,
            help_text=_("Store code: where the order was placed or the receipt printed."),
        )

        class Meta:
            ref_name = "SurveyInvitationCreateInput"

        def validate(self, attrs):
            if attrs.get("order_external_id") and not attrs.get("store"):
                raise serializers.ValidationError(
                    {"store": _("Give the store of the order: order ids are unique per store.")}
                )
            return attrs

    @extend_schema(
        operation_id="surveys_invitations_create",
        request=Input,
        responses={
            201: SurveyLinkOut,
            200: SurveyLinkOut,
            **COMMON_ERRORS,
            404: error(
                "`not_found` (no such survey), `customer_not_found`, `store_not_found` or "
                "`order_not_found`."
            ),
            409: error(
                "`survey_closed` (the survey is not live); `not_eligible` (the member cannot be "
                "asked now, the message says why); `order_member_mismatch` (the order is "
                "another member's); `idempotency_conflict`."
            ),
            415: IDEMPOTENT_ERRORS[415],
            422: IDEMPOTENT_ERRORS[422],
        },
        tags=["surveys"],
    )
    @idempotent
    def post(self, request: Request, slug: str) -> Response:
        data = validated(self.Input, request.data)
        survey = survey_get(slug=slug)
        customer = (
            customer_get(member_number=data["member_number"]) if data.get("member_number") else None
        )
        store = store_get(code=data["store"]) if data.get("store") else None
        order = None
        if data.get("order_external_id"):
            order = order_get(store_code=store.code, external_id=data["order_external_id"])
        link = receipt_link(survey=survey, customer=customer, order=order, store=store)
        invitation = link.invitation
        return Response(
            {
                "url": survey_link(invitation.token),
                "token_expires_at": serializers.DateTimeField().to_representation(
                    invitation.expires_at
                ),
            },
            status=status.HTTP_201_CREATED if link.created else status.HTTP_200_OK,
        )
