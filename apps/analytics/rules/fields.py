"""The fields a segment can test, each with its operators and value type.

A field turns ``(op, value, days)`` into a ``Q`` over ``customers.Customer``: a column of the
customer or of a one-to-one row (loyalty account, metrics), or a correlated subquery for facts
that live in other tables (orders, tickets, survey answers). Every leaf is never NULL where SQL
would otherwise make ``not`` disagree with plain logic: counts and sums are coalesced to 0, and
"latest" facts are guarded by ``Exists`` so a customer without them simply does not match.
"""

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db.models import (
    Count,
    DecimalField,
    Exists,
    F,
    IntegerField,
    Max,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce
from django.db.models.lookups import (
    Exact,
    GreaterThan,
    GreaterThanOrEqual,
    In,
    LessThan,
    LessThanOrEqual,
)
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.complaints.models import Ticket
from apps.complaints.selectors import tickets_open
from apps.customers.enums import Channel, ConsentPurpose, Gender, OrderStatus, Source
from apps.customers.models import ConsentRecord, Order, OrderLine, Store, Tag
from apps.loyalty.enums import LotStatus
from apps.loyalty.models import PointsLot, Tier
from apps.surveys.enums import ScoreGroup
from apps.surveys.selectors import last_nps

from ..enums import ChurnBand, RFMSegment

COMPARE = ("eq", "ne", "gt", "gte", "lt", "lte", "between")
CHOOSE = ("eq", "ne", "in", "not_in")
TEXT = ("eq", "ne", "in", "not_in", "contains")
SET = ("has", "has_not")
FLAG = ("eq",)

_LOOKUP = {"eq": Exact, "gt": GreaterThan, "gte": GreaterThanOrEqual, "lt": LessThan}
_LOOKUP["lte"] = LessThanOrEqual


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


def _compare(target, op: str, value) -> Q:
    """``target`` is a column path (str) or an expression; ``value`` a number or [low, high]."""
    if isinstance(target, str):
        if op == "between":
            return Q(**{f"{target}__gte": value[0], f"{target}__lte": value[1]})
        if op == "ne":
            # A missing value (no metrics row yet) is not "different": it is unknown.
            return Q(**{f"{target}__isnull": False}) & ~Q(**{target: value})
        suffix = "" if op == "eq" else f"__{op}"
        return Q(**{f"{target}{suffix}": value})
    if op == "between":
        return Q(GreaterThanOrEqual(target, value[0])) & Q(LessThanOrEqual(target, value[1]))
    if op == "ne":
        return ~Q(Exact(target, value))
    return Q(_LOOKUP[op](target, value))


def _choose(column: str, op: str, value) -> Q:
    """Choices and text; "is not" and "is none of" need a value to compare (a customer without
    a metrics row is neither in nor out of an RFM segment)."""
    known = Q(**{f"{column}__isnull": False})
    if op in ("in", "not_in"):
        q = Q(**{f"{column}__in": list(value)})
        return known & ~q if op == "not_in" else q
    if op == "contains":
        return Q(**{f"{column}__icontains": value})
    q = Q(**{column: value})
    return known & ~q if op == "ne" else q


def _column(column: str, kind: str = "compare"):
    if kind == "compare":
        return lambda op, value, days: _compare(column, op, value)
    return lambda op, value, days: _choose(column, op, value)


def _since(days: int | None):
    return timezone.now() - dt.timedelta(days=days) if days else None


def _has(exists) -> Callable[[str, object, int | None], Q]:
    """A set membership: ``exists(value)`` is the queryset of rows proving it."""

    def build(op: str, value, days) -> Q:
        q = Q(Exists(exists(value)))
        return ~q if op == "has_not" else q

    return build


def _paid_orders():
    return Order.objects.filter(customer=OuterRef("pk")).exclude(status=OrderStatus.REFUNDED)


def _orders_count(op, value, days):
    orders = _paid_orders()
    if days:
        orders = orders.filter(placed_at__gte=_since(days))
    n = Subquery(orders.order_by().values("customer").annotate(n=Count("pk")).values("n")[:1])
    return _compare(Coalesce(n, Value(0), output_field=IntegerField()), op, value)


def _orders_spend(op, value, days):
    orders = _paid_orders()
    if days:
        orders = orders.filter(placed_at__gte=_since(days))
    total = Subquery(
        orders.order_by()
        .values("customer")
        .annotate(s=Sum(F("total") - F("refunded_amount")))
        .values("s")[:1]
    )
    money = DecimalField(max_digits=14, decimal_places=2)
    value = [Decimal(str(v)) for v in value] if op == "between" else Decimal(str(value))
    return _compare(Coalesce(total, Value(Decimal(0)), output_field=money), op, value)


def _days_since_last(op, value, days):
    last = Subquery(
        _paid_orders().order_by().values("customer").annotate(m=Max("placed_at")).values("m")[:1]
    )
    today = timezone.localdate()
    # "N days since the last order" counts calendar days: the last order's local date.
    if op == "between":
        low, high = value
        q = _compare(last, "lt", _day_start(today - dt.timedelta(days=low - 1))) & _compare(
            last, "gte", _day_start(today - dt.timedelta(days=high))
        )
    else:
        start = _day_start(today - dt.timedelta(days=value))  # the day N days ago
        end = _day_start(today - dt.timedelta(days=value - 1))
        q = {
            "eq": _compare(last, "gte", start) & _compare(last, "lt", end),
            "ne": ~(_compare(last, "gte", start) & _compare(last, "lt", end)),
            "gt": _compare(last, "lt", start),
            "gte": _compare(last, "lt", end),
            "lt": _compare(last, "gte", end),
            "lte": _compare(last, "gte", start),
        }[op]
    return Q(Exists(_paid_orders())) & q


def _day_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=timezone.get_default_timezone())


def _points_expiring(op, value, days):
    now = timezone.now()
    lots = PointsLot.objects.filter(
        account__customer=OuterRef("pk"),
        status=LotStatus.AVAILABLE,
        remaining__gt=0,
        expires_at__gt=now,
        expires_at__lte=now + dt.timedelta(days=days or 30),
    )
    total = Subquery(lots.order_by().values("account").annotate(s=Sum("remaining")).values("s")[:1])
    return _compare(Coalesce(total, Value(0), output_field=IntegerField()), op, value)


def _age(op, value, days):
    """Age in whole years today: ``age >= N`` is born on or before today − N years."""
    today = timezone.localdate()

    def born_by(years: int) -> dt.date:  # the latest birth date of someone aged ``years``
        try:
            return today.replace(year=today.year - years)
        except ValueError:  # 29 February
            return today.replace(year=today.year - years, day=28)

    def aged_at_least(n):
        return Q(birth_date__lte=born_by(n))

    def aged_at_most(n):
        return Q(birth_date__gt=born_by(n + 1))

    if op == "between":
        return aged_at_least(value[0]) & aged_at_most(value[1])
    return {
        "eq": lambda: aged_at_least(value) & aged_at_most(value),
        "ne": lambda: ~(aged_at_least(value) & aged_at_most(value)),
        "gte": lambda: aged_at_least(value),
        "gt": lambda: aged_at_least(value + 1),
        "lte": lambda: aged_at_most(value),
        "lt": lambda: aged_at_most(value - 1),
    }[op]()


def _joined_days(op, value, days):
    """Days since joining, by calendar day: ``>= N`` joined on or before the day N days ago."""
    today = timezone.localdate()

    def before(n):  # joined before the start of the day n−1 days ago: at least n days
        return Q(joined_at__lt=_day_start(today - dt.timedelta(days=n - 1)))

    def on_or_after(n):  # at most n days
        return Q(joined_at__gte=_day_start(today - dt.timedelta(days=n)))

    if op == "between":
        return before(value[0]) & on_or_after(value[1])
    return {
        "eq": lambda: before(value) & on_or_after(value),
        "ne": lambda: ~(before(value) & on_or_after(value)),
        "gte": lambda: before(value),
        "gt": lambda: before(value + 1),
        "lte": lambda: on_or_after(value),
        "lt": lambda: on_or_after(value - 1),
    }[op]()


def _consent(op, value, days):
    """The customer's latest answer for the channel and purpose; never asked reads as no."""
    channel, purpose = value.split(":")
    latest = (
        ConsentRecord.objects.filter(customer=OuterRef("pk"), channel=channel, purpose=purpose)
        .order_by("-at", "-id")
        .values("granted")[:1]
    )
    q = Q(Exact(Coalesce(Subquery(latest), Value(False)), True))
    return ~q if op == "has_not" else q


def _last_nps_group(op, value, days):
    """The latest NPS answer's group; a customer who never answered matches no comparison
    (coalescing to a listed value makes "is not" false for them without a second subquery)."""
    group = last_nps()["last_nps_group"]
    if op in ("in", "not_in"):
        values = list(value)
        if op == "in":
            return Q(In(Coalesce(group, Value("")), values))
        return ~Q(In(Coalesce(group, Value(values[0])), values))
    if op == "eq":
        return Q(Exact(Coalesce(group, Value("")), value))
    return ~Q(Exact(Coalesce(group, Value(value)), value))


def _open_ticket(op, value, days):
    q = Q(Exists(tickets_open(as_of=timezone.now()).filter(customer=OuterRef("pk"))))
    return q if value else ~q


def _complaints_count(op, value, days):
    tickets = Ticket.objects.filter(customer=OuterRef("pk"))
    if days:
        tickets = tickets.filter(created_at__gte=_since(days))
    n = Subquery(tickets.order_by().values("customer").annotate(n=Count("pk")).values("n")[:1])
    return _compare(Coalesce(n, Value(0), output_field=IntegerField()), op, value)


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


_languages = lambda: [(code, str(name)) for code, name in settings.LANGUAGES]  # noqa: E731

_register(
    # The customer's profile
    Field(
        "customer.gender",
        "customer",
        _("Gender"),
        "choice",
        CHOOSE,
        _column("gender", "choose"),
        _enum(Gender.choices),
    ),
    Field("customer.age", "customer", _("Age"), "int", COMPARE, _age, minimum=0, maximum=130),
    Field("customer.city", "customer", _("City"), "text", TEXT, _column("city", "choose")),
    Field("customer.region", "customer", _("Region"), "text", TEXT, _column("region", "choose")),
    Field(
        "customer.language",
        "customer",
        _("Preferred language"),
        "choice",
        CHOOSE,
        _column("preferred_language", "choose"),
        _languages,
    ),
    Field(
        "customer.source",
        "customer",
        _("Joined through"),
        "choice",
        CHOOSE,
        _column("source", "choose"),
        _enum(Source.choices),
    ),
    Field(
        "customer.store",
        "customer",
        _("Home store"),
        "code",
        CHOOSE,
        _column("store__code", "choose"),
        _store_choices,
    ),
    Field(
        "customer.joined_days",
        "customer",
        _("Days since joining"),
        "int",
        COMPARE,
        _joined_days,
        minimum=0,
        maximum=36500,
    ),
    Field(
        "customer.birthday_month",
        "customer",
        _("Birthday month"),
        "int",
        COMPARE,
        _column("birth_date__month"),
        minimum=1,
        maximum=12,
    ),
    Field(
        "customer.tags",
        "customer",
        _("Tags"),
        "set",
        SET,
        _has(lambda v: Tag.objects.filter(customers=OuterRef("pk"), name=v)),
        _tag_choices,
    ),
    Field("consent.granted", "consent", _("Consent"), "choice", SET, _consent, _consent_choices),
    # Loyalty
    Field(
        "loyalty.tier",
        "loyalty",
        _("Tier"),
        "code",
        CHOOSE,
        _column("loyalty_account__tier__slug", "choose"),
        _tier_choices,
    ),
    Field(
        "loyalty.balance",
        "loyalty",
        _("Points balance"),
        "int",
        COMPARE,
        _column("loyalty_account__balance"),
        minimum=0,
    ),
    Field(
        "loyalty.lifetime_earned",
        "loyalty",
        _("Points earned in all"),
        "int",
        COMPARE,
        _column("loyalty_account__lifetime_earned"),
        minimum=0,
    ),
    Field(
        "loyalty.points_expiring",
        "loyalty",
        _("Points expiring within N days"),
        "int",
        COMPARE,
        _points_expiring,
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
        _orders_count,
        days="optional",
        minimum=0,
    ),
    Field(
        "orders.spend",
        "orders",
        _("Spend in ¥ (in the last N days)"),
        "number",
        COMPARE,
        _orders_spend,
        days="optional",
        minimum=0,
    ),
    Field(
        "orders.days_since_last",
        "orders",
        _("Days since the last order"),
        "int",
        COMPARE,
        _days_since_last,
        minimum=0,
        maximum=36500,
    ),
    Field(
        "orders.bought_category",
        "orders",
        _("Bought in category"),
        "text",
        SET,
        _has(
            lambda v: OrderLine.objects.filter(order__customer=OuterRef("pk"), category__iexact=v)
        ),
    ),
    Field(
        "orders.bought_sku",
        "orders",
        _("Bought SKU"),
        "code",
        SET,
        _has(lambda v: OrderLine.objects.filter(order__customer=OuterRef("pk"), sku=v)),
    ),
    Field(
        "orders.bought_at_store",
        "orders",
        _("Bought at store"),
        "code",
        SET,
        _has(lambda v: Order.objects.filter(customer=OuterRef("pk"), store__code=v)),
        _store_choices,
    ),
    # Customer value
    Field(
        "metrics.rfm_segment",
        "metrics",
        _("RFM segment"),
        "choice",
        CHOOSE,
        _column("metrics__rfm_segment", "choose"),
        _enum(RFMSegment.choices),
    ),
    Field(
        "metrics.r_score",
        "metrics",
        _("Recency score (1–5)"),
        "int",
        COMPARE,
        _column("metrics__r_score"),
        minimum=1,
        maximum=5,
    ),
    Field(
        "metrics.f_score",
        "metrics",
        _("Frequency score (1–5)"),
        "int",
        COMPARE,
        _column("metrics__f_score"),
        minimum=1,
        maximum=5,
    ),
    Field(
        "metrics.m_score",
        "metrics",
        _("Monetary score (1–5)"),
        "int",
        COMPARE,
        _column("metrics__m_score"),
        minimum=1,
        maximum=5,
    ),
    Field(
        "metrics.churn_band",
        "metrics",
        _("Churn risk band"),
        "choice",
        CHOOSE,
        _column("metrics__churn_band", "choose"),
        _enum(ChurnBand.choices),
    ),
    Field(
        "metrics.churn_risk",
        "metrics",
        _("Churn risk (0–1)"),
        "number",
        COMPARE,
        _column("metrics__churn_risk"),
        minimum=0,
        maximum=1,
    ),
    Field(
        "metrics.clv",
        "metrics",
        _("Predicted CLV (¥)"),
        "number",
        COMPARE,
        _column("metrics__predicted_clv"),
        minimum=0,
    ),
    Field(
        "metrics.health_score",
        "metrics",
        _("Health score (0–100)"),
        "int",
        COMPARE,
        _column("metrics__health_score"),
        minimum=0,
        maximum=100,
    ),
    Field(
        "metrics.p_alive",
        "metrics",
        _("Probability alive (0–1)"),
        "number",
        COMPARE,
        _column("metrics__p_alive"),
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
        _last_nps_group,
        _enum(ScoreGroup.choices),
    ),
    Field(
        "complaints.open_ticket",
        "complaints",
        _("Has an open complaint"),
        "flag",
        FLAG,
        _open_ticket,
    ),
    Field(
        "complaints.count",
        "complaints",
        _("Complaints (in the last N days)"),
        "int",
        COMPARE,
        _complaints_count,
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
