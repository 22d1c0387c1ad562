"""Events from apps and shops that event-bonus earn rules reward (DESIGN §3): a completed
profile, an installed app, a posted review, a completed survey. Points are awarded once per
(member, event, reference), whatever the retries (invariant 2)."""

from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.customers.selectors import customer_get
from apps.loyalty.enums import EarnEvent
from apps.loyalty.services.bonuses import EVENT_REFERENCE_MAX_LENGTH, event_bonus_record

from ..idempotency import idempotent
from ..schema import COMMON_ERRORS, IDEMPOTENT_ERRORS, error
from ..serializers import EnumField, JsonTypes, validated


class EarnEventField(EnumField):
    enum = EarnEvent
    schema_name = "EarnEvent"


EventResultOut = inline_serializer(
    name="EventResult",
    fields={
        "event": EarnEventField(),
        "reference": serializers.CharField(),
        "points_awarded": serializers.IntegerField(
            help_text=_("Bonus points this event earned (0 when no active rule rewards it).")
        ),
        "balance": serializers.IntegerField(help_text=_("Spendable points of the member now.")),
    },
)


class CustomerEventCreateApi(APIView):
    """Report something the member did; active event-bonus rules for it award their points.

    201 when this call awarded points. The same event and reference again, with or without an
    Idempotency-Key, awards nothing more and answers 200 with the first body. When no active
    rule rewards the event (none for it, outside its window, not for the member's tier) the
    answer is 200 with ``points_awarded`` 0 and nothing is recorded. An event code this version
    does not know is 400 ``validation_error`` on ``event``."""

    class Input(JsonTypes, serializers.Serializer):
        event = EarnEventField()
        reference = serializers.CharField(
            max_length=EVENT_REFERENCE_MAX_LENGTH,
            help_text=_(
                "Your id of this occurrence (review id, survey response id…): "
                "points are awarded once per member, event and reference."
            ),
        )

        class Meta:
            ref_name = "CustomerEventInput"

    @extend_schema(
        operation_id="customers_events_create",
        request=Input,
        responses={
            201: EventResultOut,
            200: EventResultOut,
            **COMMON_ERRORS,
            404: error("`customer_not_found`."),
            **IDEMPOTENT_ERRORS,
        },
        tags=["loyalty"],
    )
    @idempotent
    def post(self, request: Request, member_number: str) -> Response:
        customer = customer_get(member_number=member_number)
        data = validated(self.Input, request.data)
        outcome = event_bonus_record(
            customer=customer, event=data["event"], reference=data["reference"]
        )
        tx = outcome.transaction
        return Response(
            {
                "event": data["event"],
                "reference": data["reference"].strip(),
                "points_awarded": tx.points if tx is not None else 0,
                "balance": outcome.balance,
            },
            status=status.HTTP_201_CREATED if outcome.created else status.HTTP_200_OK,
        )
