"""``POST /api/v1/sms/receipts/``: the SMS gateway's delivery receipts — one JSON receipt or a
list of them — signed with ``X-Signature: sha256=<HMAC-SHA256 of the body under
SMS_HTTP_RECEIPT_SECRET>`` (``apps.core.sms.sms_receipt_verify``), not an API key; refused when
no secret is set. Answers 200 ``{"applied": n, "ignored": m}``: intermediate states and receipts
for unknown messages are ignored, never an error the gateway would retry. Left out of the
OpenAPI document, which describes the API-key integrations; documented in docs/campaigns.md."""

import json

from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.campaigns.services.tracking import sms_receipt_apply
from apps.core.sms import sms_receipt_parse, sms_receipt_verify

from .inbound import RawParser

MAX_RECEIPTS = 1000


@method_decorator(csrf_exempt, name="dispatch")
class SmsReceiptApi(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    parser_classes = [RawParser]

    @extend_schema(exclude=True)  # the SMS gateway's door, not the integrators' API
    def post(self, request: Request) -> Response:
        body = request.body
        if not sms_receipt_verify(body, request.headers.get("X-Signature", "")):
            return Response(
                {"code": "forbidden", "message": "The receipt's signature is not valid."},
                status=403,
            )
        try:
            payload = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            return Response({"code": "validation_error", "message": "Not JSON."}, status=400)
        items = payload if isinstance(payload, list) else [payload]
        if len(items) > MAX_RECEIPTS:
            return Response(
                {"code": "validation_error", "message": f"At most {MAX_RECEIPTS} receipts."},
                status=400,
            )
        applied = 0
        for item in items:
            receipt = sms_receipt_parse(item)
            if receipt is not None and sms_receipt_apply(receipt=receipt):
                applied += 1
        return Response({"applied": applied, "ignored": len(items) - applied})
