"""``POST /api/v1/inbound/email/``: a mail gateway posts one raw MIME message (any content
type; the body is the message). Authenticated by the gateway's signature
(``apps.core.mail_signing.verify_gateway_request``: ``X-Clientele-Timestamp`` and
``X-Clientele-Signature``, HMAC-SHA256 with ``INBOUND_MAIL_SECRET``), not an API key; refused
when the secret is not set. Answers 200 ``{"status": "added"|"duplicate", "reference"}`` or 202
``{"status": "ignored"|"unmatched"|"refused", "reason"}``: the gateway must not retry those.
Left out of the OpenAPI document, which describes the API-key integrations; documented in
``docs/complaints.md``."""

from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import extend_schema
from rest_framework.parsers import BaseParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.complaints.services.inbound import inbound_mail_receive
from apps.core.mail_signing import GatewayRefused, verify_gateway_request


class RawParser(BaseParser):
    media_type = "*/*"

    def parse(self, stream, media_type=None, parser_context=None):
        return stream.read()


@method_decorator(csrf_exempt, name="dispatch")
class InboundEmailApi(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    parser_classes = [RawParser]

    @extend_schema(exclude=True)  # the mail gateway's door, not the integrators' API
    def post(self, request: Request) -> Response:
        body = request.body
        try:
            verify_gateway_request(body, request.headers)
        except GatewayRefused as exc:
            return Response({"code": "forbidden", "message": str(exc)}, status=403)
        result = inbound_mail_receive(raw=body)
        payload = {"status": result.status, "reference": result.reference, "reason": result.reason}
        return Response(payload, status=200 if result.status in ("added", "duplicate") else 202)
