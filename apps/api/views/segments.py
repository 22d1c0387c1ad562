"""``POST /segments/preview/`` ``{rules}`` → ``{count, sample: [member_number, ...]}``: how many
customers a condition tree matches now, and the first few of them (DESIGN §6). The tree is the
one the staff builder saves (``all`` / ``any`` / ``not`` over ``{field, op, value, days}``);
hostile trees (unknown fields, values that are not what the field takes, nesting deeper than
six levels, more than sixty conditions) are refused with 400 ``invalid_rules`` before any query.
"""

from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.analytics.rules.compiler import segment_customers

from ..schema import COMMON_ERRORS, error
from ..serializers import validated

SAMPLE = 20


class SegmentPreviewApi(APIView):
    class Input(serializers.Serializer):
        rules = serializers.DictField(
            help_text=_(
                'A condition tree: {"all": [...]}, {"any": [...]}, {"not": {...}} or a '
                'condition {"field": "orders.count", "op": "gte", "value": 3, "days": 90}.'
            )
        )

        class Meta:
            ref_name = "SegmentPreviewInput"

    @extend_schema(
        operation_id="segments_preview",
        request=Input,
        responses={
            200: inline_serializer(
                name="SegmentPreview",
                fields={
                    "count": serializers.IntegerField(),
                    "sample": serializers.ListField(child=serializers.CharField()),
                },
            ),
            **COMMON_ERRORS,
            400: error("`validation_error` or `invalid_rules` (the message names the place)."),
        },
        tags=["segments"],
    )
    def post(self, request: Request) -> Response:
        data = validated(self.Input, request.data)
        customers = segment_customers(data["rules"])
        sample = list(customers.order_by("pk").values_list("member_number", flat=True)[:SAMPLE])
        return Response({"count": customers.count(), "sample": sample})
