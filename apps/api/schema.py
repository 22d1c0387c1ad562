"""OpenAPI pieces shared by the v1 views: the error envelope, the Idempotency-Key header and
the error responses every endpoint can give."""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import (
    OpenApiAuthenticationExtension,
    OpenApiSerializerFieldExtension,
)
from drf_spectacular.plumbing import ResolvedComponent
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, inline_serializer
from rest_framework import serializers

from apps.core.idempotency import KEY_MAX_LENGTH

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
    type=OpenApiTypes.STR,
    location=OpenApiParameter.HEADER,
    required=False,
    description=(
        f"Optional, at most {KEY_MAX_LENGTH} characters, unique per API key. The same key with "
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
