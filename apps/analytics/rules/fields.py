"""The fields a segment can test, each with its label, operators, value type and range, the
choices the builder offers, whether it takes a number of days, and how it becomes a ``Q``
(``builders``). Anything not listed here is refused by ``compiler.rules_validate``."""

from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.db.models import OuterRef, Q
from django.utils.translation import gettext_lazy as _

from apps.customers.enums import Channel, ConsentPurpose, Gender, Source
from apps.customers.models import Order, OrderLine, Store, Tag
from apps.loyalty.models import Tier
from apps.surveys.enums import ScoreGroup

from ..enums import ChurnBand, RFMSegment
from .builders import (
    CHOOSE,
    COMPARE,
    FLAG,
    SET,
    TEXT,
    age,
    column,
    complaints_count,
    consent,
    days_since_last,
    has,
    joined_days,
    last_nps_group,
    open_ticket,
    orders_count,
    orders_spend,
    points_expiring,
)


@dataclass(frozen=True)
class Field:
    name: str
    group: str
    label: str
    kind: str  # int | number | choice | code | text | set | flag
    ops: tuple[str, ...]
    build: Callable[[str, object, int | None], Q]
    choices: Callable[[], list[tuple[str, str]]] | None = None
    days: str = ""  # "" no window, "optional", "required"
    minimum: float | None = None
    maximum: float | None = None


def _tier_choices():
    return [(t.slug, t.name) for t in Tier.objects.order_by("rank")]


def _store_choices():
    return [(st.code, st.name) for st in Store.objects.filter(is_active=True).order_by("name")]


def _tag_choices():
    return [(t.name, t.label or t.name) for t in Tag.objects.order_by("name")]


def _consent_choices():
    return [
        (f"{c}:{p}", f"{Channel(c).label} · {ConsentPurpose(p).label}")
        for c in Channel.values
        for p in ConsentPurpose.values
    ]


def _enum(choices):
    return lambda: [(value, str(label)) for value, label in choices]


FIELDS: dict[str, Field] = {}


def _register(*fields: Field) -> None:
    for field in fields:
        FIELDS[field.name] = field


def _languages():
    return [(code, str(name)) for code, name in settings.LANGUAGES]


_register(
    # The customer's profile
    Field(
        "customer.gender",
        "customer",
        _("Gender"),
        "choice",
        CHOOSE,
        column("gender", "choose"),
        _enum(Gender.choices),
    ),
    Field("customer.age", "customer", _("Age"), "int", COMPARE, age, minimum=0, maximum=130),
    Field("customer.city", "customer", _("City"), "text", TEXT, column("city", "choose")),
    Field("customer.region", "customer", _("Region"), "text", TEXT, column("region", "choose")),
    Field(
        "customer.language",
        "customer",
        _("Preferred language"),
        "choice",
        CHOOSE,
        column("preferred_language", "choose"),
        _languages,
    ),
    Field(
        "customer.source",
        "customer",
        _("Joined through"),
        "choice",
        CHOOSE,
        column("source", "choose"),
        _enum(Source.choices),
    ),
    Field(
        "customer.store",
        "customer",
        _("Home store"),
        "code",
        CHOOSE,
        column("store__code", "choose"),
        _store_choices,
    ),
    Field(
        "customer.joined_days",
        "customer",
        _("Days since joining"),
        "int",
        COMPARE,
        joined_days,
        minimum=0,
        maximum=36500,
    ),
    Field(
        "customer.birthday_month",
        "customer",
        _("Birthday month"),
        "int",
        COMPARE,
        column("birth_date__month"),
        minimum=1,
        maximum=12,
    ),
    Field(
        "customer.tags",
        "customer",
        _("Tags"),
        "set",
        SET,
        has(lambda v: Tag.objects.filter(customers=OuterRef("pk"), name=v)),
        _tag_choices,
    ),
    Field("consent.granted", "consent", _("Consent"), "choice", SET, consent, _consent_choices),
    # Loyalty
    Field(
        "loyalty.tier",
        "loyalty",
        _("Tier"),
        "code",
        CHOOSE,
        column("loyalty_account__tier__slug", "choose"),
        _tier_choices,
    ),
    Field(
        "loyalty.balance",
        "loyalty",
        _("Points balance"),
        "int",
        COMPARE,
        column("loyalty_account__balance"),
        minimum=0,
    ),
    Field(
        "loyalty.lifetime_earned",
        "loyalty",
        _("Points earned in all"),
        "int",
        COMPARE,
        column("loyalty_account__lifetime_earned"),
        minimum=0,
    ),
    Field(
        "loyalty.points_expiring",
        "loyalty",
        _("Points expiring within N days"),
        "int",
        COMPARE,
        points_expiring,
        days="required",
        minimum=0,
    ),
    # Purchases
    Field(
        "orders.count",
        "orders",
        _("Orders (in the last N days)"),
        "int",
        COMPARE,
        orders_count,
        days="optional",
        minimum=0,
    ),
    Field(
        "orders.spend",
        "orders",
        _("Spend in ¥ (in the last N days)"),
        "number",
        COMPARE,
        orders_spend,
        days="optional",
        minimum=0,
    ),
    Field(
        "orders.days_since_last",
        "orders",
        _("Days since the last order"),
        "int",
        COMPARE,
        days_since_last,
        minimum=0,
        maximum=36500,
    ),
    Field(
        "orders.bought_category",
        "orders",
        _("Bought in category"),
        "text",
        SET,
        has(lambda v: OrderLine.objects.filter(order__customer=OuterRef("pk"), category__iexact=v)),
    ),
    Field(
        "orders.bought_sku",
        "orders",
        _("Bought SKU"),
        "code",
        SET,
        has(lambda v: OrderLine.objects.filter(order__customer=OuterRef("pk"), sku=v)),
    ),
    Field(
        "orders.bought_at_store",
        "orders",
        _("Bought at store"),
        "code",
        SET,
        has(lambda v: Order.objects.filter(customer=OuterRef("pk"), store__code=v)),
        _store_choices,
    ),
    # Customer value
    Field(
        "metrics.rfm_segment",
        "metrics",
        _("RFM segment"),
        "choice",
        CHOOSE,
        column("metrics__rfm_segment", "choose"),
        _enum(RFMSegment.choices),
    ),
    Field(
        "metrics.r_score",
        "metrics",
        _("Recency score (1–5)"),
        "int",
        COMPARE,
        column("metrics__r_score"),
        minimum=1,
        maximum=5,
    ),
    Field(
        "metrics.f_score",
        "metrics",
        _("Frequency score (1–5)"),
        "int",
        COMPARE,
        column("metrics__f_score"),
        minimum=1,
        maximum=5,
    ),
    Field(
        "metrics.m_score",
        "metrics",
        _("Monetary score (1–5)"),
        "int",
        COMPARE,
        column("metrics__m_score"),
        minimum=1,
        maximum=5,
    ),
    Field(
        "metrics.churn_band",
        "metrics",
        _("Churn risk band"),
        "choice",
        CHOOSE,
        column("metrics__churn_band", "choose"),
        _enum(ChurnBand.choices),
    ),
    Field(
        "metrics.churn_risk",
        "metrics",
        _("Churn risk (0–1)"),
        "number",
        COMPARE,
        column("metrics__churn_risk"),
        minimum=0,
        maximum=1,
    ),
    Field(
        "metrics.clv",
        "metrics",
        _("Predicted CLV (¥)"),
        "number",
        COMPARE,
        column("metrics__predicted_clv"),
        minimum=0,
    ),
    Field(
        "metrics.health_score",
        "metrics",
        _("Health score (0–100)"),
        "int",
        COMPARE,
        column("metrics__health_score"),
        minimum=0,
        maximum=100,
    ),
    Field(
        "metrics.p_alive",
        "metrics",
        _("Probability alive (0–1)"),
        "number",
        COMPARE,
        column("metrics__p_alive"),
        minimum=0,
        maximum=1,
    ),
    # Surveys and complaints
    Field(
        "surveys.last_nps_group",
        "surveys",
        _("Last NPS answer"),
        "choice",
        CHOOSE,
        last_nps_group,
        _enum(ScoreGroup.choices),
    ),
    Field(
        "complaints.open_ticket",
        "complaints",
        _("Has an open complaint"),
        "flag",
        FLAG,
        open_ticket,
    ),
    Field(
        "complaints.count",
        "complaints",
        _("Complaints (in the last N days)"),
        "int",
        COMPARE,
        complaints_count,
        days="optional",
        minimum=0,
    ),
)

GROUPS = {
    "customer": _("Customer"),
    "consent": _("Consent"),
    "loyalty": _("Loyalty"),
    "orders": _("Purchases"),
    "metrics": _("Customer value"),
    "surveys": _("Surveys"),
    "complaints": _("Complaints"),
}
