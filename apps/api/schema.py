"""OpenAPI pieces shared by the v1 views: the error envelope, the Idempotency-Key header and
the error responses every endpoint can give."""

import math
from decimal import Decimal

from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import (
    OpenApiAuthenticationExtension,
    OpenApiSerializerFieldExtension,
)
from drf_spectacular.plumbing import ResolvedComponent
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, inline_serializer
from rest_framework import serializers

from apps.core.idempotency import KEY_MAX_LENGTH, KEY_REGEX

ErrorSerializer = inline_serializer(
    name="Error",
    fields={
        "code": serializers.CharField(help_text=_("Stable machine-readable error code.")),
        "message": serializers.CharField(help_text=_("Human-readable explanation.")),
        "errors": serializers.JSONField(
            required=False,
            help_text=_("Only for `validation_error`: every invalid field with its messages."),
        ),
    },
)


def error(description: str) -> OpenApiResponse:
    return OpenApiResponse(response=ErrorSerializer, description=description)


def paginated(serializer_class, *, name: str):
    """The cursor-paginated envelope around a list of ``serializer_class``."""
    return inline_serializer(
        name=name,
        fields={
            "next": serializers.URLField(allow_null=True, help_text=_("Next page, or null.")),
            "previous": serializers.URLField(
                allow_null=True, help_text=_("Previous page, or null.")
            ),
            "results": serializer_class(many=True),
        },
    )


IDEMPOTENCY_KEY_PARAMETER = OpenApiParameter(
    name="Idempotency-Key",
    type={"type": "string", "pattern": KEY_REGEX, "maxLength": KEY_MAX_LENGTH},
    location=OpenApiParameter.HEADER,
    required=False,
    description=(
        f"Optional, 1 to {KEY_MAX_LENGTH} visible ASCII characters (no spaces), unique per "
        "API key. The same key with "
        "the same body returns the stored first response (with `Idempotent-Replayed: true`); "
        "the same key with another body gives 422 `idempotency_key_reused`; while the first "
        "request is still running, 409 `idempotency_conflict`. Keys are kept 24 hours."
    ),
)

COMMON_ERRORS = {
    400: error("`validation_error` (the field is named in the message) or `parse_error`."),
    401: error("`not_authenticated` or `authentication_failed` (unknown or revoked key)."),
    403: error("`permission_denied`."),
    429: error("`throttled`: too many requests for this key; retry after `Retry-After` seconds."),
}

IDEMPOTENT_ERRORS = {
    409: error("`idempotency_conflict`: a request with this Idempotency-Key is still running."),
    415: error("`unsupported_media_type`: send `application/json`."),
    422: error("`idempotency_key_reused`: this Idempotency-Key was used with another body."),
}


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    """Documents ``Authorization: Api-Key <key>`` (registered on import of this module)."""

    target_class = "apps.api.auth.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_requirement(self, auto_schema):
        # SPECTACULAR_SETTINGS["SECURITY"] already requires "ApiKey" on every operation.
        return []

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Api-Key <key>`; create a key with `manage.py create_api_key`.",
        }


class EnumFieldSchema(OpenApiSerializerFieldExtension):
    """``EnumField`` subclasses become one named enum component each (``ContactChannel``,
    ``OrderChannel``) instead of enums named after whichever field uses them."""

    target_class = "apps.api.serializers.EnumField"
    match_subclasses = True

    def map_serializer_field(self, auto_schema, direction):
        field = self.target
        component = ResolvedComponent(
            name=field.schema_name,
            type=ResolvedComponent.SCHEMA,
            object=field.schema_name,
            schema={"type": "string", "enum": list(field.enum.values)},
        )
        auto_schema.registry.register_on_missing(component)
        return component.ref


def decimal_pattern(*, whole_digits: int, decimal_places: int, minimum: Decimal | None) -> str:
    """The exact set of strings ``DecimalField`` accepts, as an ECMA regex: leading zeros are
    free (they are not significant digits), at most ``decimal_places`` after the point, no sign
    when ``minimum`` is 0 or more, and no zero value when it is above 0."""
    places = decimal_places
    fraction = rf"(?:\.\d{{0,{places}}})?" if places else ""
    if minimum is not None and minimum > 0:
        # A non-zero digit in the whole part, or a whole part of zeros and a non-zero fraction.
        nonzero_fraction = "|".join(
            "0" * k + "[1-9]" + (rf"\d{{0,{places - 1 - k}}}" if places - 1 - k else "")
            for k in range(places)
        )
        whole = rf"0*[1-9]\d{{0,{whole_digits - 1}}}{fraction}"
        body = whole if not places else rf"(?:{whole}|0*\.(?:{nonzero_fraction}))"
        return rf"^{body}$"
    sign = "" if minimum is not None and minimum >= 0 else "-?"
    body = rf"0*\d{{1,{whole_digits}}}{fraction}" if whole_digits else rf"0*{fraction}"
    if places:
        body = rf"(?:{body}|0*\.\d{{1,{places}}})"
    if minimum is not None and minimum == 0 and places:
        # Decimal("-0") is not below zero.
        body = rf"(?:{body}|-(?:0+(?:\.0{{0,{places}}})?|0*\.0{{1,{places}}}))"
    return rf"^{sign}{body}$"


class DecimalFieldSchema(OpenApiSerializerFieldExtension):
    """Amounts and quantities as strings whose pattern is exactly what the field accepts, so a
    schema-valid value is never refused (drf-spectacular's own pattern admits "" and "-")."""

    target_class = "rest_framework.serializers.DecimalField"
    match_subclasses = True

    def map_serializer_field(self, auto_schema, direction):
        field = self.target
        minimum = field.min_value
        schema = {
            "type": "string",
            "format": "decimal",
            "pattern": decimal_pattern(
                whole_digits=field.max_digits - field.decimal_places,
                decimal_places=field.decimal_places,
                minimum=minimum,
            ),
        }
        if minimum is not None:
            schema["description"] = f"At least {minimum}."
        if direction == "request" and "inexact" in field.default_error_messages:
            # ``apps.api.serializers.DecimalField`` also takes a whole JSON number.
            whole = 10 ** (field.max_digits - field.decimal_places) - 1
            low = -whole if minimum is None else math.ceil(minimum)
            number = {"type": "integer", "minimum": low, "maximum": whole}
            return {"oneOf": [schema, number]}
        return schema


CouponInvalidSerializer = inline_serializer(
    name="CouponInvalidError",
    fields={
        "code": serializers.CharField(help_text=_("`coupon_invalid`.")),
        "message": serializers.CharField(help_text=_("Human-readable explanation.")),
        "reason": serializers.CharField(
            help_text=_(
                "Stable reason: unknown, inactive, not_yet_valid, expired, used_up, "
                "per_customer_limit, not_owner, below_min_spend."
            )
        ),
    },
)


# Free text as the API takes it: DRF strips what Python calls whitespace at both ends, and the
# text rule refuses C0 controls but tab and line feed in what remains (ECMA regex syntax).
_SPACES = r"\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_TRIMMED = rf"[\t\n\u000b\u000c\r\u001c-\u001f {_SPACES}]*"
_VISIBLE = rf"[^\u0000-\u0020{_SPACES}]"
_INSIDE = r"[^\u0000-\u0008\u000b-\u001f]*"
TEXT_PATTERN = rf"^{_TRIMMED}{_VISIBLE}(?:{_INSIDE}{_VISIBLE})?{_TRIMMED}$"
BLANK_OR_TEXT = rf"^{_TRIMMED}(?:{_VISIBLE}(?:{_INSIDE}{_VISIBLE})?{_TRIMMED})?$"


def document_cross_field_rules(result, generator, request, public):
    """Postprocessing hook: what serializers and services check beyond a field's type, written
    into the schema where JSON Schema can say it. Free text in a request holds no control
    characters (``apps.core.text``) and is trimmed, so a required one needs a visible
    character; enrolment needs a contact: a non-blank e-mail or phone
    (``customer_profile_problems``); a survey receipt link's or a complaint's
    ``order_external_id`` needs its ``store``."""
    schemas = result.get("components", {}).get("schemas", {})
    for name, component in schemas.items():
        if name.endswith("Request"):
            for prop in component.get("properties", {}).values():
                if prop.get("type") == "string" and not {"format", "enum", "pattern"} & set(prop):
                    prop["pattern"] = TEXT_PATTERN if prop.get("minLength") else BLANK_OR_TEXT
    enrol = schemas.get("CustomerCreateInputRequest")
    if enrol is not None:
        enrol_ref = "#/components/schemas/CustomerCreateInputRequest"
        for operations in result.get("paths", {}).values():
            for operation in operations.values():
                body = operation.get("requestBody", {}) if isinstance(operation, dict) else {}
                if any(
                    media.get("schema", {}).get("$ref") == enrol_ref
                    for media in body.get("content", {}).values()
                ):
                    body["required"] = True
        enrol["anyOf"] = [
            {"required": [field], "properties": {field: {"minLength": 1}}}
            for field in ("email", "phone")
        ]
    # A receipt link's order is identified by store and external id: the one needs the other.
    for name in ("SurveyInvitationCreateInputRequest", "ComplaintCreateInputRequest"):
        receipt = schemas.get(name)
        if receipt is not None:
            receipt["anyOf"] = [
                {"required": ["store"]},
                {"not": {"required": ["order_external_id"]}},
            ]
    return result
