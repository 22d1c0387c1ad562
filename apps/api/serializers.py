"""Representations shared by the v1 views. Database ids never appear in them: customers are
addressed by member number, stores by code, orders by (store, external id)."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework import serializers

from apps.core.exceptions import ValidationFailed
from apps.customers.enums import Channel, Gender, OrderChannel
from apps.customers.identifiers import phone_normalize
from apps.customers.models import Customer


def validated(serializer_class: type[serializers.Serializer], data, **kwargs) -> dict:
    """Validate ``data`` with ``serializer_class``; a ValidationError becomes a 400 response."""
    serializer = serializer_class(data=data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def phone_field_validate(value: str) -> str:
    """E.164 form of a phone typed in any format, as a field error when it is not a number."""
    try:
        return phone_normalize(value)
    except ValidationFailed as exc:
        raise serializers.ValidationError(exc.message) from None


class EnumField(serializers.ChoiceField):
    """A choice of one of our TextChoices, documented as one named enum component
    (``schema_name``) wherever it appears, whatever the field is called."""

    enum: type[models.TextChoices]
    schema_name: str

    def __init__(self, **kwargs):
        super().__init__(choices=self.enum.choices, **kwargs)


class ChannelField(EnumField):
    enum = Channel
    schema_name = "ContactChannel"


class OrderChannelField(EnumField):
    enum = OrderChannel
    schema_name = "OrderChannel"


class CustomerOut(serializers.ModelSerializer):
    store = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)
    tags = serializers.SlugRelatedField(slug_field="name", many=True, read_only=True)
    preferred_channel = ChannelField(read_only=True)

    class Meta:
        model = Customer
        ref_name = "Customer"
        fields = [
            "member_number",
            "first_name",
            "last_name",
            "email",
            "phone",
            "birth_date",
            "gender",
            "city",
            "region",
            "preferred_language",
            "preferred_channel",
            "joined_at",
            "store",
            "tags",
        ]
        read_only_fields = fields


class CustomerProfileIn(serializers.Serializer):
    """Profile fields an integration may set at enrolment and change later. Blank strings
    clear a field."""

    first_name = serializers.CharField(max_length=80, required=False, allow_blank=True)
    last_name = serializers.CharField(max_length=80, required=False, allow_blank=True)
    email = serializers.EmailField(max_length=254, required=False, allow_blank=True)
    phone = serializers.CharField(
        max_length=32,
        required=False,
        allow_blank=True,
        help_text=_("Any format; stored in E.164 (+8613812345678)."),
    )
    birth_date = serializers.DateField(required=False, allow_null=True)
    gender = serializers.ChoiceField(choices=Gender.choices, required=False, allow_blank=True)
    city = serializers.CharField(max_length=80, required=False, allow_blank=True)
    region = serializers.CharField(max_length=80, required=False, allow_blank=True)
    preferred_language = serializers.ChoiceField(choices=settings.LANGUAGES, required=False)
    preferred_channel = ChannelField(required=False)
    store = serializers.SlugField(
        max_length=32, required=False, help_text=_("Code of the enrolment store.")
    )

    def validate_phone(self, value: str) -> str:
        return phone_field_validate(value)

    def validate_birth_date(self, value):
        if value is not None and value > timezone.localdate():
            raise serializers.ValidationError(_("The birth date is in the future."))
        return value
