"""How each segment field becomes a ``Q`` over ``customers.Customer`` (``fields.FIELDS`` names
them): a column of the customer or of a one-to-one row (loyalty account, metrics), or a
correlated subquery for facts in other tables (orders, tickets, survey answers). Every leaf is
never NULL where SQL would otherwise make ``not`` disagree with plain logic: counts and sums are
coalesced to 0, and "latest" facts are coalesced so a customer without them matches no
comparison."""

import datetime as dt
from collections.abc import Callable
from decimal import Decimal

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

from apps.complaints.models import Ticket
from apps.complaints.selectors import tickets_open
from apps.customers.enums import OrderStatus
from apps.customers.models import ConsentRecord, Order
from apps.loyalty.enums import LotStatus
from apps.loyalty.models import PointsLot
from apps.surveys.selectors import last_nps

COMPARE = ("eq", "ne", "gt", "gte", "lt", "lte", "between")
CHOOSE = ("eq", "ne", "in", "not_in")
TEXT = ("eq", "ne", "in", "not_in", "contains")
SET = ("has", "has_not")
FLAG = ("eq",)

LOOKUP = {"eq": Exact, "gt": GreaterThan, "gte": GreaterThanOrEqual, "lt": LessThan}
LOOKUP["lte"] = LessThanOrEqual


def compare(target, op: str, value) -> Q:
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
    return Q(LOOKUP[op](target, value))


def choose(column: str, op: str, value) -> Q:
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


def column(column: str, kind: str = "compare"):
    if kind == "compare":
        return lambda op, value, days: compare(column, op, value)
    return lambda op, value, days: choose(column, op, value)


def since(days: int | None):
    return timezone.now() - dt.timedelta(days=days) if days else None


def has(exists) -> Callable[[str, object, int | None], Q]:
    """A set membership: ``exists(value)`` is the queryset of rows proving it."""

    def build(op: str, value, days) -> Q:
        q = Q(Exists(exists(value)))
        return ~q if op == "has_not" else q

    return build


def paid_orders():
    return Order.objects.filter(customer=OuterRef("pk")).exclude(status=OrderStatus.REFUNDED)


def orders_count(op, value, days):
    orders = paid_orders()
    if days:
        orders = orders.filter(placed_at__gte=since(days))
    n = Subquery(orders.order_by().values("customer").annotate(n=Count("pk")).values("n")[:1])
    return compare(Coalesce(n, Value(0), output_field=IntegerField()), op, value)


def orders_spend(op, value, days):
    orders = paid_orders()
    if days:
        orders = orders.filter(placed_at__gte=since(days))
    total = Subquery(
        orders.order_by()
        .values("customer")
        .annotate(s=Sum(F("total") - F("refunded_amount")))
        .values("s")[:1]
    )
    money = DecimalField(max_digits=14, decimal_places=2)
    value = [Decimal(str(v)) for v in value] if op == "between" else Decimal(str(value))
    return compare(Coalesce(total, Value(Decimal(0)), output_field=money), op, value)


def days_since_last(op, value, days):
    last = Subquery(
        paid_orders().order_by().values("customer").annotate(m=Max("placed_at")).values("m")[:1]
    )
    today = timezone.localdate()
    # "N days since the last order" counts calendar days: the last order's local date.
    if op == "between":
        low, high = value
        q = compare(last, "lt", day_start(today - dt.timedelta(days=low - 1))) & compare(
            last, "gte", day_start(today - dt.timedelta(days=high))
        )
    else:
        start = day_start(today - dt.timedelta(days=value))  # the day N days ago
        end = day_start(today - dt.timedelta(days=value - 1))
        q = {
            "eq": compare(last, "gte", start) & compare(last, "lt", end),
            "ne": ~(compare(last, "gte", start) & compare(last, "lt", end)),
            "gt": compare(last, "lt", start),
            "gte": compare(last, "lt", end),
            "lt": compare(last, "gte", end),
            "lte": compare(last, "gte", start),
        }[op]
    return Q(Exists(paid_orders())) & q


def day_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=timezone.get_default_timezone())


def points_expiring(op, value, days):
    now = timezone.now()
    lots = PointsLot.objects.filter(
        account__customer=OuterRef("pk"),
        status=LotStatus.AVAILABLE,
        remaining__gt=0,
        expires_at__gt=now,
        expires_at__lte=now + dt.timedelta(days=days or 30),
    )
    total = Subquery(lots.order_by().values("account").annotate(s=Sum("remaining")).values("s")[:1])
    return compare(Coalesce(total, Value(0), output_field=IntegerField()), op, value)


def whole_units(op: str, value, *, at_least, at_most) -> Q:
    """A comparison on a count of whole years or days, from the two bounds that define it:
    ``at_least(n)`` and ``at_most(n)`` (each a ``Q``); "= n" is both, "> n" is at least n + 1."""
    if op == "between":
        return at_least(value[0]) & at_most(value[1])
    return {
        "eq": lambda: at_least(value) & at_most(value),
        "ne": lambda: ~(at_least(value) & at_most(value)),
        "gte": lambda: at_least(value),
        "gt": lambda: at_least(value + 1),
        "lte": lambda: at_most(value),
        "lt": lambda: at_most(value - 1),
    }[op]()


def age(op, value, days):
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

    return whole_units(op, value, at_least=aged_at_least, at_most=aged_at_most)


def joined_days(op, value, days):
    """Days since joining, by calendar day: ``>= N`` joined on or before the day N days ago."""
    today = timezone.localdate()

    def before(n):  # joined before the start of the day n−1 days ago: at least n days
        return Q(joined_at__lt=day_start(today - dt.timedelta(days=n - 1)))

    def on_or_after(n):  # at most n days
        return Q(joined_at__gte=day_start(today - dt.timedelta(days=n)))

    return whole_units(op, value, at_least=before, at_most=on_or_after)


def consent(op, value, days):
    """The customer's latest answer for the channel and purpose; never asked reads as no."""
    channel, purpose = value.split(":")
    latest = (
        ConsentRecord.objects.filter(customer=OuterRef("pk"), channel=channel, purpose=purpose)
        .order_by("-at", "-id")
        .values("granted")[:1]
    )
    q = Q(Exact(Coalesce(Subquery(latest), Value(False)), True))
    return ~q if op == "has_not" else q


def last_nps_group(op, value, days):
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


def open_ticket(op, value, days):
    q = Q(Exists(tickets_open(as_of=timezone.now()).filter(customer=OuterRef("pk"))))
    return q if value else ~q


def complaints_count(op, value, days):
    tickets = Ticket.objects.filter(customer=OuterRef("pk"))
    if days:
        tickets = tickets.filter(created_at__gte=since(days))
    n = Subquery(tickets.order_by().values("customer").annotate(n=Count("pk")).values("n")[:1])
    return compare(Coalesce(n, Value(0), output_field=IntegerField()), op, value)
