"""Representations shared by the v1 views. Database ids never appear in them: customers are
addressed by member number, stores by code, orders by (store, external id)."""

from collections.abc import Mapping

from django.db import models
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rest_framework import serializers

from apps.core.exceptions import ValidationFailed
from apps.core.text import text_problem
from apps.customers.enums import Channel, Gender, OrderChannel, OrderStatus
from apps.customers.identifiers import phone_normalize
from apps.customers.models import Customer
from apps.customers.services import (
    PERSONAL_FIELDS,
    PREFERENCE_FIELDS,
    PROFILE_FIELDS,
    customer_profile_problems,
)
from apps.loyalty.codes import redemption_reference
from apps.loyalty.enums import CouponRefusal, RedemptionStatus, RewardKind, TierMetric, TxKind


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


class JsonTypes:
    """Input serializers take the JSON types their schema documents: a text field a string
    without control characters (``apps.core.text``), a flag ``true``/``false``, a count a whole
    number. (DRF would quietly read 12 as "12", "yes" as true and 2.0 as 2, which no schema
    says and no client should rely on.)"""

    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            errors = {
                name: [message]
                for name, field in self.fields.items()
                if not field.read_only
                and data.get(name) is not None
                and (message := _json_type_problem(field, data[name]))
            }
            if errors:
                raise serializers.ValidationError(errors)
        return super().to_internal_value(data)


def _json_type_problem(field: serializers.Field, value) -> str:
    if isinstance(field, serializers.CharField):
        if not isinstance(value, str):
            return _("Not a valid string.")
        if field.max_length is not None and len(value) > field.max_length:
            # Before trimming too: the schema's maxLength counts what is sent.
            return str(field.error_messages["max_length"]).format(max_length=field.max_length)
        # The text rule holds for every text the API takes, stored or only looked up.
        return text_problem(value.strip() if field.trim_whitespace else value) or ""
    if isinstance(field, serializers.BooleanField) and not isinstance(value, bool):
        return _("Must be true or false.")
    if isinstance(field, serializers.IntegerField) and (
        isinstance(value, bool) or not isinstance(value, int)
    ):
        return _("A valid integer is required.")
    return ""


class DecimalField(serializers.DecimalField):
    """An exact amount or quantity: a string such as "19.90" or a whole JSON number such as 2.
    A JSON number with a fraction is binary floating point (0.1 is not 0.1) and is refused
    rather than rounded behind the caller's back."""

    default_error_messages = {
        "inexact": gettext_lazy(
            'Send this as a string such as "19.90" or as a whole number; a number with a '
            "fraction is inexact."
        )
    }

    def to_internal_value(self, data):
        if isinstance(data, float):
            self.fail("inexact")
        return super().to_internal_value(data)


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


class TierMetricField(EnumField):
    enum = TierMetric
    schema_name = "TierMetric"


class TxKindField(EnumField):
    enum = TxKind
    schema_name = "PointsTransactionKind"


class RewardKindField(EnumField):
    enum = RewardKind
    schema_name = "RewardKind"


class RedemptionStatusField(EnumField):
    enum = RedemptionStatus
    schema_name = "RedemptionStatus"


class OrderStatusField(EnumField):
    enum = OrderStatus
    schema_name = "OrderStatus"


class CouponRefusalField(EnumField):
    """A coupon's refusal code, or "" when the coupon can be used."""

    enum = CouponRefusal
    schema_name = "CouponRefusal"

    def __init__(self, **kwargs):
        super().__init__(allow_blank=True, **kwargs)


class CustomerOut(serializers.ModelSerializer):
    # Blank is a real value here (no e-mail on file, gender not given): the schema says so.
    email = serializers.CharField(read_only=True, help_text=_("E-mail address, or empty."))
    gender = serializers.ChoiceField(choices=Gender.choices, allow_blank=True, read_only=True)
    store = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)
    tags = serializers.SlugRelatedField(slug_field="name", many=True, read_only=True)
    preferred_channel = ChannelField(read_only=True)

    class Meta:
        model = Customer
        ref_name = "Customer"
        fields = [
            "member_number",
            *PERSONAL_FIELDS,
            *PREFERENCE_FIELDS,
            "joined_at",
            "store",
            "tags",
        ]
        read_only_fields = fields


class CustomerProfileIn(JsonTypes, serializers.ModelSerializer):
    """Profile fields an integration may set at enrolment and change later, derived from the
    ``Customer`` model; blank strings clear a field. The one clean of a profile is the customers
    service's (``customer_profile_problems``): for a change, the view passes the customer being
    changed as ``context["customer"]``."""

    phone = serializers.CharField(
        max_length=32,
        required=False,
        allow_blank=True,
        help_text=_("Any format; stored in E.164 (+8613812345678)."),
    )
    preferred_channel = ChannelField(required=False)
    store = serializers.SlugField(
        max_length=32, required=False, help_text=_("Code of the enrolment store.")
    )

    class Meta:
        model = Customer
        fields = PROFILE_FIELDS
        extra_kwargs = {name: {"required": False} for name in PROFILE_FIELDS}

    def validate(self, attrs):
        profile = {k: v for k, v in attrs.items() if k != "store"}
        cleaned, problems = customer_profile_problems(profile, current=self.context.get("customer"))
        if problems:
            field, message = problems[0]
            raise serializers.ValidationError({field: message})
        return attrs | cleaned


# --- loyalty ---------------------------------------------------------------------------------


class TierRefOut(serializers.Serializer):
    """A tier wherever the API names one (``tier`` of the points summary and of an order
    result, ``next_tier``): its stable code and its display name."""

    slug = serializers.CharField(help_text=_("Tier code."))
    name = serializers.CharField()

    class Meta:
        ref_name = "TierRef"


def tier_ref(tier) -> dict | None:
    """The one representation of a tier in the API (``TierRef``), or None."""
    return {"slug": tier.slug, "name": tier.name} if tier is not None else None


class NextTierOut(TierRefOut):
    metric = TierMetricField(
        help_text=_("What qualifies: spend in the programme currency, or points earned."),
    )
    threshold = DecimalField(max_digits=12, decimal_places=2)

    class Meta:
        ref_name = "NextTier"


class ExpiringOut(serializers.Serializer):
    points = serializers.IntegerField()
    expires_on = serializers.DateField(help_text=_("Local date on which these points expire."))

    class Meta:
        ref_name = "ExpiringPoints"


class PointsOut(serializers.Serializer):
    """The member's points (``apps.loyalty.selectors.points_summary``)."""

    balance = serializers.IntegerField(help_text=_("Spendable points."))
    pending = serializers.IntegerField(help_text=_("Points waiting for the return window."))
    lifetime_earned = serializers.IntegerField()
    tier = TierRefOut(allow_null=True, help_text=_("Current tier, or null."))
    next_tier = NextTierOut(allow_null=True, help_text=_("The next tier up, or null at the top."))
    points_to_next_tier = DecimalField(
        max_digits=12,
        decimal_places=2,
        allow_null=True,
        help_text=_(
            "What is left to qualify for next_tier, in the unit given by next_tier_metric: "
            "currency for spend, points earned for points (despite the name). Null when there "
            "is no next tier."
        ),
    )
    next_tier_metric = TierMetricField(
        allow_null=True,
        help_text=_(
            "Unit of points_to_next_tier: spend (programme currency) or points (earned from "
            "purchases). Null when there is no next tier."
        ),
    )
    expiring = ExpiringOut(many=True, help_text=_("Points expiring in the next 90 days, by day."))

    class Meta:
        ref_name = "Points"


def points_out(summary) -> dict:
    nxt = summary.next_tier
    return PointsOut(
        {
            "balance": summary.balance,
            "pending": summary.pending,
            "lifetime_earned": summary.lifetime_earned,
            "tier": tier_ref(summary.tier),
            "next_tier": (
                {**tier_ref(nxt), "metric": nxt.metric, "threshold": nxt.threshold}
                if nxt is not None
                else None
            ),
            "points_to_next_tier": summary.to_next_tier if nxt is not None else None,
            "next_tier_metric": nxt.metric if nxt is not None else None,
            "expiring": summary.expiring,
        }
    ).data


class OrderRefOut(serializers.Serializer):
    store = serializers.CharField(help_text=_("Store code."))
    external_id = serializers.CharField()

    class Meta:
        ref_name = "OrderRef"


class PointsTransactionOut(serializers.Serializer):
    kind = TxKindField()
    points = serializers.IntegerField(help_text=_("Change of the spendable balance."))
    pending_points = serializers.IntegerField(help_text=_("Change of the pending points."))
    balance_after = serializers.IntegerField()
    reason = serializers.CharField()
    description = serializers.CharField(
        help_text=_(
            'The row in plain words, in the Accept-Language of the request, e.g. "Purchase at '
            'Nanjing Road · order 000123 · 158 points (Gold ×1.2)".'
        )
    )
    created_at = serializers.DateTimeField()
    order = OrderRefOut(allow_null=True)
    reward = serializers.CharField(allow_null=True, help_text=_("Reward code of a redemption."))

    class Meta:
        ref_name = "PointsTransaction"

    def to_representation(self, tx):
        return {
            "kind": tx.kind,
            "points": tx.points,
            "pending_points": tx.pending_points,
            "balance_after": tx.balance_after,
            "reason": tx.reason,
            "description": self.context.get("descriptions", {}).get(tx.pk, ""),
            "created_at": serializers.DateTimeField().to_representation(tx.created_at),
            "order": (
                {"store": tx.order.store.code, "external_id": tx.order.external_id}
                if tx.order_id
                else None
            ),
            "reward": tx.redemption.reward.slug if tx.redemption_id else None,
        }


class RewardOut(serializers.Serializer):
    reward = serializers.CharField(source="slug", help_text=_("Reward code, used to redeem."))
    name = serializers.CharField()
    kind = RewardKindField()
    description = serializers.CharField()
    cost_points = serializers.IntegerField()
    stock = serializers.IntegerField(allow_null=True, help_text=_("Null: unlimited."))
    per_member_limit = serializers.IntegerField(allow_null=True)
    min_tier = serializers.SerializerMethodField(help_text=_("Tier code, or null."))
    available_from = serializers.DateTimeField(source="starts_at", allow_null=True)
    available_until = serializers.DateTimeField(source="ends_at", allow_null=True)
    image = serializers.SerializerMethodField()

    class Meta:
        ref_name = "Reward"

    def get_min_tier(self, reward) -> str | None:
        return reward.min_tier.slug if reward.min_tier_id else None

    def get_image(self, reward) -> str | None:
        if not reward.image:
            return None
        request = self.context.get("request")
        url = reward.image.url
        return request.build_absolute_uri(url) if request is not None else url


class RewardOfferOut(RewardOut):
    eligible = serializers.BooleanField(
        allow_null=True,
        help_text=_("Whether the member can redeem one now; null without member_number."),
    )
    reason = serializers.CharField(
        allow_null=True, help_text=_("Why not, for the member; empty when eligible.")
    )

    class Meta:
        ref_name = "RewardOffer"


class RedemptionOut(serializers.Serializer):
    id = serializers.CharField(
        help_text=_("Public reference of the redemption (RD-…); not a database id.")
    )
    status = RedemptionStatusField()
    points_spent = serializers.IntegerField()
    balance = serializers.IntegerField(help_text=_("Spendable points of the member now."))
    voucher_code = serializers.CharField(
        allow_null=True, help_text=_("Coupon code of a voucher reward, else null.")
    )

    class Meta:
        ref_name = "Redemption"


def redemption_out(redemption, *, balance: int) -> dict:
    return RedemptionOut(
        {
            "id": redemption_reference(redemption),
            "status": redemption.status,
            "points_spent": redemption.points,
            "balance": balance,
            "voucher_code": redemption.voucher_code or None,
        }
    ).data


class CouponCheckOut(serializers.Serializer):
    valid = serializers.BooleanField()
    discount = DecimalField(
        max_digits=12, decimal_places=2, help_text=_("Discount on this order total (0 if invalid).")
    )
    reason = serializers.CharField(help_text=_("Why the coupon cannot be used; empty if valid."))
    reason_code = CouponRefusalField(
        help_text=_("Stable machine value of `reason`; empty if valid."),
    )

    class Meta:
        ref_name = "CouponCheck"


class CouponUseOut(serializers.Serializer):
    code = serializers.CharField(help_text=_("The coupon's code, normalised."))
    discount = DecimalField(max_digits=12, decimal_places=2)
    order_external_id = serializers.CharField()
    store = serializers.CharField(help_text=_("Store code."))
    member_number = serializers.CharField(allow_null=True)
    at = serializers.DateTimeField()

    class Meta:
        ref_name = "CouponUse"


def coupon_use_out(use, *, code: str, member_number: str | None) -> dict:
    return CouponUseOut(
        {
            "code": code,
            "discount": use.discount,
            "order_external_id": use.order_external_id,
            "store": use.store.code,
            "member_number": member_number,
            "at": use.at,
        }
    ).data
