"""``@idempotent``: the Idempotency-Key contract (DESIGN §6) for any DRF POST handler.

Apply it to every POST method of the v1 API (under ``@extend_schema``). Scope is the calling
API key, so two integrations never collide; the fingerprint is SHA-256 of method, path and the
canonical JSON body. The rendered JSON of the first response is stored as text, so a replay is
byte-for-byte the first response, with the same status and an ``Idempotent-Replayed: true``
header. Non-5xx outcomes (including 4xx refusals) are stored and replayed; a 5xx or an
unexpected exception releases the key so the client can retry it. The bookkeeping lives in
``apps.core.idempotency``; this module maps it onto requests and responses.
"""

import functools

from django.http import HttpResponse
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions
from rest_framework.renderers import JSONRenderer

from apps.core.idempotency import (
    KEY_MAX_LENGTH,
    KEY_PATTERN,
    ClaimState,
    idempotency_claim,
    idempotency_finish,
    idempotency_release,
    request_fingerprint,
)

from .schema import IDEMPOTENCY_KEY_PARAMETER

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"


def _json_response(body: str, status: int, *, replayed: bool = False) -> HttpResponse:
    response = HttpResponse(body.encode(), status=status, content_type="application/json")
    if replayed:
        response[REPLAYED_HEADER] = "true"
    return response


def _key_from(request) -> str | None:
    raw = request.headers.get(HEADER)
    if raw is None:
        return None
    key = raw.strip()
    if not key:
        raise exceptions.ValidationError({HEADER: [_("The key must not be blank.")]})
    if len(key) > KEY_MAX_LENGTH:
        raise exceptions.ValidationError(
            {HEADER: [_("At most %(n)d characters.") % {"n": KEY_MAX_LENGTH}]}
        )
    if not KEY_PATTERN.fullmatch(key):
        raise exceptions.ValidationError(
            {HEADER: [_("Use visible ASCII characters only (letters, digits, - _ . : and so on).")]}
        )
    return key


def idempotent(handler):
    """Decorate ``post(self, request, *args, **kwargs)`` of an APIView."""

    @functools.wraps(handler)
    def wrapper(self, request, *args, **kwargs):
        key = _key_from(request)
        if key is None:
            return handler(self, request, *args, **kwargs)
        # request.data may raise ParseError: then nothing is claimed and the 400 is not stored.
        fingerprint = request_fingerprint(
            method=request.method, path=request.path, body=request.data
        )
        claim = idempotency_claim(scope=str(request.auth.pk), key=key, request_hash=fingerprint)
        if claim.state is ClaimState.REPLAY:
            row = claim.row
            return _json_response(row.response_body, row.response_status, replayed=True)
        try:
            try:
                response = handler(self, request, *args, **kwargs)
            except Exception as exc:
                # Known errors become their 4xx response (stored below); unexpected ones are
                # re-raised by handle_exception.
                response = self.handle_exception(exc)
        except BaseException:
            idempotency_release(row=claim.row)
            raise
        if response.status_code >= 500:
            idempotency_release(row=claim.row)
            return response
        body = JSONRenderer().render(response.data).decode()
        idempotency_finish(row=claim.row, status=response.status_code, body=body)
        return _json_response(body, response.status_code)

    return extend_schema(parameters=[IDEMPOTENCY_KEY_PARAMETER])(wrapper)
