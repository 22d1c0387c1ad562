"""The segment rule compiler: refusals before any query, every field on PostgreSQL, the meaning
of each field on small hand-made data, and one SQL statement per segment."""

import datetime as dt
import itertools
from decimal import Decimal

import pytest
from django.db.models import Q
from django.utils import timezone

from apps.analytics.exceptions import InvalidRules
from apps.analytics.models import CustomerMetrics
from apps.analytics.rules.compiler import rules_compile, rules_validate, segment_customers
from apps.analytics.rules.fields import FIELDS
from apps.complaints.models import Ticket
from apps.customers.models import ConsentRecord
from apps.loyalty.models import LoyaltyAccount, PointsLot
from apps.surveys.models import Response
from tests.complaints.factories import CategoryFactory
from tests.customers.factories import (
    CustomerFactory,
    OrderFactory,
    OrderLineFactory,
    StoreFactory,
    TagFactory,
)
from tests.loyalty.factories import TierFactory
from tests.surveys.factories import InvitationFactory, SurveyFactory

pytestmark = pytest.mark.django_db

_seq = itertools.count(1)


# --- helpers -------------------------------------------------------------------------------------


def leaf(field: str, op: str, value, days: int | None = None) -> dict:
    node = {"field": field, "op": op, "value": value}
    if days is not None:
        node["days"] = days
    return node


def members(rules) -> set[int]:
    return set(segment_customers(rules).values_list("pk", flat=True))


def ids(*customers) -> set[int]:
    return {c.pk for c in customers}


def ago(days: float = 0, **kwargs) -> dt.datetime:
    return timezone.now() - dt.timedelta(days=days, **kwargs)


def local_day_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=timezone.get_current_timezone())


def years_before(day: dt.date, years: int, *, leap_fallback_day: int = 28) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February in a common year
        if leap_fallback_day == 28:
            return day.replace(year=day.year - years, day=28)
        return day.replace(year=day.year - years, month=3, day=1)


def order(customer, *, placed_at=None, total="100.00", refunded="0", status="paid", store=None):
    kwargs = {"store": store} if store is not None else {}
    return OrderFactory(
        customer=customer,
        placed_at=placed_at or ago(3),
        total=Decimal(total),
        refunded_amount=Decimal(refunded),
        status=status,
        **kwargs,
    )


def metrics(customer, **values) -> CustomerMetrics:
    return CustomerMetrics.objects.create(
        customer=customer, as_of=timezone.localdate(), computed_at=timezone.now(), **values
    )


def ticket(customer, *, created_at=None, resolved_at=None, closed_at=None) -> Ticket:
    return Ticket.objects.create(
        reference=f"C-T-{next(_seq):06d}",
        customer=customer,
        channel="email",
        category=CategoryFactory(code="rules-test"),
        subject="Broken cup",
        description="The cup arrived broken.",
        created_at=created_at or ago(1),
        resolved_at=resolved_at,
        closed_at=closed_at,
    )


def nps_answer(customer, *, score: int | None, group: str, submitted_at) -> Response:
    survey = SurveyFactory(slug="rules-nps")
    return Response.objects.create(
        survey=survey,
        invitation=InvitationFactory(survey=survey, customer=customer),
        customer=customer,
        channel="email",
        nps_score=score,
        score_group=group,
        submitted_at=submitted_at,
    )


def consent(customer, value: str, *, granted: bool, at) -> ConsentRecord:
    channel, purpose = value.split(":")
    return ConsentRecord.objects.create(
        customer=customer, channel=channel, purpose=purpose, granted=granted, at=at, source="test"
    )


def account(customer, *, tier=None, balance=0, lifetime_earned=0) -> LoyaltyAccount:
    return LoyaltyAccount.objects.create(
        customer=customer, tier=tier, balance=balance, lifetime_earned=lifetime_earned
    )


def lot(acc, remaining: int, *, expires_in_days: float | None, status="available") -> PointsLot:
    now = timezone.now()
    return PointsLot.objects.create(
        account=acc,
        points=remaining,
        remaining=remaining,
        status=status,
        earned_at=now - dt.timedelta(days=60),
        available_at=now - dt.timedelta(days=45),
        expires_at=None if expires_in_days is None else now + dt.timedelta(days=expires_in_days),
    )


def refused(rules, django_assert_num_queries) -> str:
    """The refusal message of ``rules``; neither validating nor building the queryset queries."""
    with django_assert_num_queries(0):
        with pytest.raises(InvalidRules) as validate_error:
            rules_validate(rules)
        with pytest.raises(InvalidRules) as segment_error:
            segment_customers(rules)
    assert validate_error.value.message == segment_error.value.message
    return validate_error.value.message


CITY = leaf("customer.city", "eq", "Shanghai")


# --- refusals: no query runs ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        (leaf("customer.shoe_size", "eq", 42), "rules: unknown field customer.shoe_size"),
        (
            {"all": [CITY, {"any": [leaf("orders.colour", "eq", "red")]}]},
            "all[1].any[0]: unknown field orders.colour",
        ),
        ({"field": None, "op": "eq", "value": 1}, "rules: unknown field None"),
        (
            {"all": [CITY, leaf("customer.city", "gte", "Shanghai")]},
            "all[1]: customer.city takes the operators eq, ne, in, not_in, contains",
        ),
        (
            leaf("orders.count", "contains", 3),
            "rules: orders.count takes the operators eq, ne, gt, gte, lt, lte, between",
        ),
        (
            leaf("customer.tags", "eq", "vip"),
            "rules: customer.tags takes the operators has, has_not",
        ),
        ({"any": [{"field": "orders.count", "op": "gte"}]}, "any[0]: a value is needed"),
        (leaf("orders.count", "gte", "3"), "rules: the value must be a number"),
        (leaf("orders.count", "gte", True), "rules: the value must be a number"),
        (leaf("orders.count", "gte", None), "rules: the value must be a number"),
        (leaf("orders.count", "gte", [3]), "rules: the value must be a number"),
        (leaf("orders.count", "gte", 2.5), "rules: the value must be a whole number"),
        (leaf("orders.spend", "gte", float("nan")), "rules: the value must be a number"),
        (leaf("orders.spend", "gte", float("inf")), "rules: the value must be a number"),
        (leaf("orders.spend", "lt", float("-inf")), "rules: the value must be a number"),
        (leaf("orders.spend", "gte", "100"), "rules: the value must be a number"),
        (leaf("metrics.churn_risk", "gte", False), "rules: the value must be a number"),
        (leaf("customer.city", "eq", 3), "rules: the value must be text"),
        (leaf("customer.gender", "eq", None), "rules: the value must be text"),
        (leaf("complaints.open_ticket", "eq", 1), "rules: the value must be true or false"),
        (leaf("complaints.open_ticket", "eq", "true"), "rules: the value must be true or false"),
        (leaf("metrics.r_score", "eq", 6), "rules: the value must be at most 5"),
        (leaf("metrics.r_score", "eq", 0), "rules: the value must be at least 1"),
        (leaf("customer.birthday_month", "eq", 13), "rules: the value must be at most 12"),
        (leaf("customer.birthday_month", "eq", 0), "rules: the value must be at least 1"),
        (leaf("customer.age", "gte", 131), "rules: the value must be at most 130"),
        (leaf("orders.count", "gte", -1), "rules: the value must be at least 0"),
        (leaf("orders.spend", "gte", -0.01), "rules: the value must be at least 0"),
        (leaf("metrics.churn_risk", "gte", 1.5), "rules: the value must be at most 1"),
        (
            leaf("customer.age", "between", [30]),
            "rules: between takes two values, [low, high]",
        ),
        (
            leaf("customer.age", "between", [30, 40, 50]),
            "rules: between takes two values, [low, high]",
        ),
        (leaf("customer.age", "between", 30), "rules: between takes two values, [low, high]"),
        (
            leaf("customer.age", "between", [40, 30]),
            "rules: the low value is above the high one",
        ),
        (leaf("customer.age", "between", [30, 131]), "rules: the value must be at most 130"),
        (
            leaf("customer.city", "in", []),
            "rules: the value must be a list of 1 to 100 items",
        ),
        (
            leaf("customer.city", "in", [f"City {n}" for n in range(101)]),
            "rules: the value must be a list of 1 to 100 items",
        ),
        (
            leaf("customer.city", "not_in", "Shanghai"),
            "rules: the value must be a list of 1 to 100 items",
        ),
        (leaf("customer.city", "in", ["Shanghai", 3]), "rules: the value must be text"),
        (leaf("customer.gender", "eq", "robot"), "rules: robot is not one of the choices"),
        (
            leaf("metrics.churn_band", "in", ["low", "extreme"]),
            "rules: extreme is not one of the choices",
        ),
        (
            leaf("surveys.last_nps_group", "eq", "Promoter"),
            "rules: Promoter is not one of the choices",
        ),
        (
            leaf("consent.granted", "has", "email:spam"),
            "rules: email:spam is not one of the choices",
        ),
        (
            leaf("loyalty.tier", "eq", "gold'; DROP TABLE customers_customer; --"),
            "rules: gold'; DROP TABLE customers_customer; -- is not a code",
        ),
        (
            leaf("customer.store", "in", ["s1", "s1' OR '1'='1"]),
            "rules: s1' OR '1'='1 is not a code",
        ),
        (leaf("orders.bought_sku", "has", ""), "rules:  is not a code"),
        (
            leaf("customer.city", "eq", 'Shanghai"; DELETE FROM customers_customer; --'),
            "rules: the text may hold letters, digits, spaces and simple punctuation only",
        ),
        (
            leaf("customer.city", "contains", "a;b"),
            "rules: the text may hold letters, digits, spaces and simple punctuation only",
        ),
        (
            leaf("customer.region", "eq", '"quoted"'),
            "rules: the text may hold letters, digits, spaces and simple punctuation only",
        ),
        (
            leaf("orders.bought_category", "has", "tea%"),
            "rules: the text may hold letters, digits, spaces and simple punctuation only",
        ),
        (
            leaf("customer.tags", "has", "vip\x00"),
            "rules: the text may hold letters, digits, spaces and simple punctuation only",
        ),
        (
            leaf("customer.city", "eq", ""),
            "rules: the text may hold letters, digits, spaces and simple punctuation only",
        ),
        (
            {"field": "customer.city", "op": "eq", "value": "Shanghai", "sql": "1=1"},
            "rules: unknown keys: sql",
        ),
        (
            {"all": [{"field": "orders.count", "op": "gte", "value": 1, "window": 30, "x": 1}]},
            "all[0]: unknown keys: window, x",
        ),
        ({"all": [CITY], "note": "hi"}, "rules: a group holds exactly one of all, any or not"),
        ({"all": [CITY], "any": [CITY]}, "rules: a group holds exactly one of all, any or not"),
        (
            {"any": [{"not": CITY, "all": []}]},
            "any[0]: a group holds exactly one of all, any or not",
        ),
        ({"all": CITY}, "rules: all takes a list of conditions"),
        ({"any": "customer.city"}, "rules: any takes a list of conditions"),
        ({"all": [CITY, "customer.city"]}, "all[1]: each condition must be an object"),
        ({"not": [CITY]}, "not: each condition must be an object"),
        (
            leaf("customer.city", "eq", "Shanghai", days=30),
            "rules: customer.city takes no number of days",
        ),
        (
            leaf("metrics.r_score", "eq", 3, days=30),
            "rules: metrics.r_score takes no number of days",
        ),
        (
            leaf("loyalty.points_expiring", "gte", 100),
            "rules: loyalty.points_expiring needs a number of days",
        ),
        (
            leaf("orders.count", "gte", 1, days=0),
            "rules: days must be a whole number from 1 to 3650",
        ),
        (
            leaf("orders.count", "gte", 1, days=3651),
            "rules: days must be a whole number from 1 to 3650",
        ),
        (
            leaf("orders.count", "gte", 1, days="30"),
            "rules: days must be a whole number from 1 to 3650",
        ),
        (
            leaf("orders.count", "gte", 1, days=True),
            "rules: days must be a whole number from 1 to 3650",
        ),
        (
            leaf("complaints.count", "gte", 1, days=30.0),
            "rules: days must be a whole number from 1 to 3650",
        ),
        (
            leaf("loyalty.points_expiring", "gte", 1, days=-5),
            "rules: days must be a whole number from 1 to 3650",
        ),
        ([CITY], "rules: the rules must be an object"),
        ("customer.city = 'Shanghai'", "rules: the rules must be an object"),
        (None, "rules: the rules must be an object"),
        ({}, "rules: unknown field None"),
    ],
)
def test_invalid_rules_are_refused_naming_the_place_without_a_query(
    rules, message, django_assert_num_queries
):
    # given a tree with one mistake; when it is validated; then InvalidRules names the place
    assert refused(rules, django_assert_num_queries) == message


def test_refusal_carries_the_place_as_where(django_assert_num_queries):
    rules = {"all": [CITY, {"not": {"any": [CITY, leaf("metrics.r_score", "eq", 6)]}}]}
    with django_assert_num_queries(0), pytest.raises(InvalidRules) as error:
        rules_validate(rules)
    assert error.value.extra == {"where": "all[1].not.any[1]"}
    assert error.value.message == "all[1].not.any[1]: the value must be at most 5"
    assert error.value.code == "invalid_rules"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("orders.count", float("nan")),
        ("orders.count", float("inf")),
        ("customer.age", float("-inf")),
        ("metrics.r_score", float("nan")),
    ],
)
def test_nan_and_infinity_for_a_whole_number_field_are_refused(
    field, value, django_assert_num_queries
):
    assert refused(leaf(field, "gte", value), django_assert_num_queries) == (
        "rules: the value must be a number"
    )


def _nested_nots(levels: int) -> dict:
    node = CITY
    for _ in range(levels):
        node = {"not": node}
    return node


def test_six_levels_of_nesting_are_accepted_and_seven_refused(django_assert_num_queries):
    # given a leaf under 5 "not" groups (6 levels) and under 6 (7 levels)
    with django_assert_num_queries(0):
        assert rules_validate(_nested_nots(5)) == _nested_nots(5)
    # then the deeper one is refused at the leaf
    assert refused(_nested_nots(6), django_assert_num_queries) == (
        "not.not.not.not.not.not: nested too deep (at most 6 levels)"
    )


def test_sixty_conditions_are_accepted_and_sixty_one_refused(django_assert_num_queries):
    # given a group of 60 leaves and one of 61
    with django_assert_num_queries(0):
        assert len(rules_validate({"all": [CITY] * 60})["all"]) == 60
    # then the 61st condition is refused where it stands
    assert refused({"any": [CITY] * 61}, django_assert_num_queries) == (
        "any[60]: too many conditions (at most 60)"
    )


def test_sixty_groups_are_accepted_and_sixty_one_refused(django_assert_num_queries):
    # given trees of empty groups: 60 groups (the root and 59 children) and 61
    with django_assert_num_queries(0):
        assert rules_validate({"all": [{"any": []}] * 59}) == {"all": [{"any": []}] * 59}
    assert refused({"all": [{"any": []}] * 60}, django_assert_num_queries) == (
        "all[59]: too many groups (at most 60)"
    )


def test_list_of_one_hundred_items_is_accepted(django_assert_num_queries):
    with django_assert_num_queries(0):
        rules = rules_validate(leaf("customer.city", "in", [f"City {n}" for n in range(100)]))
    assert len(rules["value"]) == 100


def test_validation_normalises_the_tree(django_assert_num_queries):
    # given whole floats for an int field, an explicit "days": null and an extra-free leaf
    rules = {
        "all": [
            {"field": "orders.count", "op": "between", "value": [1.0, 3.0], "days": 90},
            {"field": "customer.city", "op": "eq", "value": "Shanghai", "days": None},
            {"not": leaf("metrics.health_score", "gte", 40.0)},
        ]
    }
    with django_assert_num_queries(0):
        normal = rules_validate(rules)
        q = rules_compile(rules)
    assert normal == {
        "all": [
            {"field": "orders.count", "op": "between", "value": [1, 3], "days": 90},
            {"field": "customer.city", "op": "eq", "value": "Shanghai"},
            {"not": {"field": "metrics.health_score", "op": "gte", "value": 40}},
        ]
    }
    assert type(normal["all"][0]["value"][0]) is int
    assert type(normal["all"][2]["not"]["value"]) is int
    assert isinstance(q, Q)


def test_apostrophes_are_text_and_match_literally():
    # given a city with an apostrophe (allowed by the text pattern) and one that looks alike
    xian = CustomerFactory(city="Xi'an")
    CustomerFactory(city="Xian")
    # then the value is a bound parameter, not SQL
    assert members(leaf("customer.city", "eq", "Xi'an")) == ids(xian)
    assert members(leaf("customer.city", "contains", "i'a")) == ids(xian)


# --- every field, every operator, on PostgreSQL --------------------------------------------------


CODE_VALUES = {
    "customer.store": "s1",
    "loyalty.tier": "gold",
    "orders.bought_sku": "SKU-GT-1",
    "orders.bought_at_store": "s1",
}
TEXT_VALUES = {
    "customer.city": "Shanghai",
    "customer.region": "East",
    "customer.tags": "vip",
    "orders.bought_category": "tea",
}


def _scalar(field) -> object:
    if field.kind in ("int", "number"):
        low = field.minimum if field.minimum is not None else 0
        high = field.maximum if field.maximum is not None else low + 10
        value = low + 1 if low + 1 <= high else low
        return int(value) if field.kind == "int" else value
    if field.kind == "flag":
        return True
    if field.kind == "choice":
        return field.choices()[0][0]
    if field.kind == "code":
        return CODE_VALUES[field.name]
    return TEXT_VALUES[field.name]


def _values(field, op) -> list:
    if op == "between":
        low = field.minimum if field.minimum is not None else 0
        high = field.maximum if field.maximum is not None else low + 10
        cast = int if field.kind == "int" else float
        return [[cast(low), cast(high)], [cast(low + 1), cast(low + 1)]]
    if op in ("in", "not_in"):
        if field.kind == "choice":
            return [[code for code, _label in field.choices()][:2]]
        return [[_scalar(field), "Beijing" if field.kind == "text" else "s2"]]
    if field.kind == "flag":
        return [True, False]
    return [_scalar(field)]


def _windows(field) -> list[int | None]:
    return {"": [None], "optional": [None, 30], "required": [30]}[field.days]


@pytest.fixture
def everything():
    """Two live customers: one with a fact for every field, one with none (no birth date, no
    account, no orders, no metrics); and a merged and an anonymised one that never match."""
    s1 = StoreFactory(code="s1", name="Store One")
    StoreFactory(code="s2", name="Store Two")
    gold = TierFactory(slug="gold", rank=2)
    vip = TagFactory(name="vip")
    full = CustomerFactory(
        city="Shanghai",
        region="East",
        gender="female",
        birth_date=years_before(timezone.localdate(), 35),
        source="store",
        store=s1,
        preferred_language="en",
    )
    full.tags.add(vip)
    acc = account(full, tier=gold, balance=500, lifetime_earned=900)
    lot(acc, 120, expires_in_days=10)
    first = order(full, placed_at=ago(2), store=s1)
    OrderLineFactory(order=first, sku="SKU-GT-1", category="Tea")
    order(full, placed_at=ago(50), total="80.00")
    metrics(
        full,
        r_score=4,
        f_score=3,
        m_score=2,
        rfm_segment="loyal",
        churn_band="low",
        churn_risk=0.2,
        predicted_clv=Decimal("1234.50"),
        health_score=80,
        p_alive=0.9,
    )
    nps_answer(full, score=10, group="promoter", submitted_at=ago(5))
    ticket(full, created_at=ago(3))
    consent(full, "email:marketing", granted=True, at=ago(10))
    bare = CustomerFactory(city="", birth_date=None)
    survivor = CustomerFactory(city="Shanghai")
    CustomerFactory(city="Shanghai", merged_into=survivor, merged_at=timezone.now())
    CustomerFactory(city="Shanghai", anonymized_at=timezone.now())
    return {"full": full, "bare": bare, "survivor": survivor}


def test_registry_holds_the_documented_fields():
    assert sorted(FIELDS) == sorted(
        [
            "customer.gender",
            "customer.age",
            "customer.city",
            "customer.region",
            "customer.language",
            "customer.source",
            "customer.store",
            "customer.joined_days",
            "customer.birthday_month",
            "customer.tags",
            "consent.granted",
            "loyalty.tier",
            "loyalty.balance",
            "loyalty.lifetime_earned",
            "loyalty.points_expiring",
            "orders.count",
            "orders.spend",
            "orders.days_since_last",
            "orders.bought_category",
            "orders.bought_sku",
            "orders.bought_at_store",
            "metrics.rfm_segment",
            "metrics.r_score",
            "metrics.f_score",
            "metrics.m_score",
            "metrics.churn_band",
            "metrics.churn_risk",
            "metrics.clv",
            "metrics.health_score",
            "metrics.p_alive",
            "surveys.last_nps_group",
            "complaints.open_ticket",
            "complaints.count",
        ]
    )
    for name, field in FIELDS.items():
        assert field.name == name
        assert field.kind in ("int", "number", "choice", "code", "text", "set", "flag")
        assert field.ops, name


@pytest.mark.parametrize("name", sorted(FIELDS))
def test_every_field_and_operator_runs_and_not_is_its_complement(name, everything):
    # given customers with and without every fact
    field = FIELDS[name]
    live = ids(everything["full"], everything["bare"], everything["survivor"])
    checked = 0
    for op in field.ops:
        for value in _values(field, op):
            for days in _windows(field):
                rules = leaf(name, op, value, days)
                # when the leaf and its negation run on PostgreSQL
                matched = members(rules)
                unmatched = members({"not": rules})
                # then together they are exactly the live customers, without overlap
                assert matched | unmatched == live, rules
                assert not matched & unmatched, rules
                assert segment_customers(rules).count() == len(matched)
                checked += 1
    assert checked >= len(field.ops)


# --- meaning of each field -----------------------------------------------------------------------


def test_orders_count_counts_paid_orders_in_the_window():
    # given: two recent orders and one old; a refunded recent order; a partially refunded one
    recent_two = CustomerFactory()
    order(recent_two, placed_at=ago(10))
    order(recent_two, placed_at=ago(20))
    order(recent_two, placed_at=ago(40))
    refunded = CustomerFactory()
    order(refunded, placed_at=ago(5), status="refunded", total="50.00", refunded="50.00")
    order(refunded, placed_at=ago(6))
    partial = CustomerFactory()
    order(partial, placed_at=ago(7), status="partially_refunded", refunded="10.00")
    nobody = CustomerFactory()
    # then
    assert members(leaf("orders.count", "eq", 3)) == ids(recent_two)
    assert members(leaf("orders.count", "eq", 2, days=30)) == ids(recent_two)
    assert members(leaf("orders.count", "gte", 3, days=30)) == set()
    assert members(leaf("orders.count", "eq", 1)) == ids(refunded, partial)
    assert members(leaf("orders.count", "eq", 0)) == ids(nobody)
    assert members(leaf("orders.count", "lt", 1, days=30)) == ids(nobody)
    assert members(leaf("orders.count", "between", [1, 2], days=30)) == ids(
        recent_two, refunded, partial
    )
    assert members(leaf("orders.count", "ne", 1)) == ids(recent_two, nobody)
    assert members({"not": leaf("orders.count", "gte", 1)}) == ids(nobody)


def test_orders_spend_is_net_of_refunds():
    # given: 100 paid + 80 partially refunded by 30 (net 150); a fully refunded 500
    spender = CustomerFactory()
    order(spender, total="100.00")
    order(spender, total="80.00", refunded="30.00", status="partially_refunded")
    order(spender, total="500.00", refunded="500.00", status="refunded")
    old = CustomerFactory()
    order(old, placed_at=ago(100), total="150.00")
    nobody = CustomerFactory()
    # then
    assert members(leaf("orders.spend", "eq", 150)) == ids(spender, old)
    assert members(leaf("orders.spend", "gte", 150.01)) == set()
    assert members(leaf("orders.spend", "gt", 149.99)) == ids(spender, old)
    assert members(leaf("orders.spend", "gte", 150, days=30)) == ids(spender)
    assert members(leaf("orders.spend", "lt", 0.01, days=30)) == ids(old, nobody)
    assert members(leaf("orders.spend", "between", [0, 0])) == ids(nobody)
    assert members(leaf("orders.spend", "between", [149.5, 150.5], days=30)) == ids(spender)


def test_orders_days_since_last_counts_local_calendar_days():
    today = timezone.localdate()
    five_days_ago = today - dt.timedelta(days=5)
    # given: last orders early and late on the local day five days ago, six days ago, today
    early = CustomerFactory()
    order(early, placed_at=local_day_start(five_days_ago) + dt.timedelta(seconds=1))
    order(early, placed_at=ago(30))
    late = CustomerFactory()
    order(late, placed_at=local_day_start(five_days_ago) + dt.timedelta(hours=23, minutes=59))
    six = CustomerFactory()
    order(six, placed_at=local_day_start(today - dt.timedelta(days=6)) + dt.timedelta(hours=12))
    fresh = CustomerFactory()
    order(fresh, placed_at=ago(0, minutes=1))
    # a later refunded order does not make a customer recent
    refunded_later = CustomerFactory()
    order(refunded_later, placed_at=local_day_start(today - dt.timedelta(days=6)))
    order(refunded_later, placed_at=ago(0, minutes=2), status="refunded", refunded="100.00")
    never = CustomerFactory()
    # then
    assert members(leaf("orders.days_since_last", "eq", 5)) == ids(early, late)
    assert members(leaf("orders.days_since_last", "gte", 5)) == ids(
        early, late, six, refunded_later
    )
    assert members(leaf("orders.days_since_last", "gt", 5)) == ids(six, refunded_later)
    assert members(leaf("orders.days_since_last", "lte", 5)) == ids(early, late, fresh)
    assert members(leaf("orders.days_since_last", "lt", 5)) == ids(fresh)
    assert members(leaf("orders.days_since_last", "eq", 0)) == ids(fresh)
    assert members(leaf("orders.days_since_last", "between", [5, 6])) == ids(
        early, late, six, refunded_later
    )
    assert members(leaf("orders.days_since_last", "ne", 5)) == ids(six, fresh, refunded_later)
    # a customer without orders matches no comparison, so matches the negation of each
    assert never.pk not in members(leaf("orders.days_since_last", "gte", 0))
    assert never.pk not in members(leaf("orders.days_since_last", "lte", 36500))
    assert members({"not": leaf("orders.days_since_last", "gte", 5)}) == ids(fresh, never)
    assert members({"not": leaf("orders.days_since_last", "lte", 5)}) == ids(
        six, refunded_later, never
    )


def test_orders_bought_category_ignores_case():
    tea = CustomerFactory()
    OrderLineFactory(order=order(tea), category="Green Tea")
    coffee = CustomerFactory()
    OrderLineFactory(order=order(coffee), category="coffee")
    nothing = CustomerFactory()
    assert members(leaf("orders.bought_category", "has", "green tea")) == ids(tea)
    assert members(leaf("orders.bought_category", "has", "GREEN TEA")) == ids(tea)
    assert members(leaf("orders.bought_category", "has", "tea")) == set()
    assert members(leaf("orders.bought_category", "has_not", "Coffee")) == ids(tea, nothing)


def test_orders_bought_at_store_and_sku():
    s1 = StoreFactory(code="s1")
    s2 = StoreFactory(code="s2")
    at_s1 = CustomerFactory()
    OrderLineFactory(order=order(at_s1, store=s1), sku="SKU-9")
    at_s2 = CustomerFactory()
    order(at_s2, store=s2)
    CustomerFactory()
    assert members(leaf("orders.bought_at_store", "has", "s1")) == ids(at_s1)
    assert members(leaf("orders.bought_at_store", "has_not", "s1")) == members(
        {"not": leaf("orders.bought_at_store", "has", "s1")}
    )
    assert at_s2.pk in members(leaf("orders.bought_at_store", "has_not", "s1"))
    assert members(leaf("orders.bought_sku", "has", "SKU-9")) == ids(at_s1)


def test_customer_age_turns_on_the_birthday():
    today = timezone.localdate()
    # given: 30 today, 30 tomorrow (29 today), 31 today, no birth date
    thirty = CustomerFactory(birth_date=years_before(today, 30))
    twenty_nine = CustomerFactory(
        birth_date=years_before(today + dt.timedelta(days=1), 30, leap_fallback_day=1)
    )
    thirty_one = CustomerFactory(birth_date=years_before(today, 31))
    unknown = CustomerFactory(birth_date=None)
    # then
    assert members(leaf("customer.age", "eq", 30)) == ids(thirty)
    assert members(leaf("customer.age", "eq", 29)) == ids(twenty_nine)
    assert members(leaf("customer.age", "gte", 30)) == ids(thirty, thirty_one)
    assert members(leaf("customer.age", "gt", 30)) == ids(thirty_one)
    assert members(leaf("customer.age", "lte", 30)) == ids(thirty, twenty_nine)
    assert members(leaf("customer.age", "lt", 30)) == ids(twenty_nine)
    assert members(leaf("customer.age", "between", [30, 31])) == ids(thirty, thirty_one)
    assert members(leaf("customer.age", "between", [29, 29])) == ids(twenty_nine)
    # an unknown age matches no comparison; "not" is plain negation
    assert members(leaf("customer.age", "gte", 0)) == ids(thirty, twenty_nine, thirty_one)
    assert members({"not": leaf("customer.age", "gte", 30)}) == ids(twenty_nine, unknown)


def test_customer_birthday_month_and_joined_days():
    today = timezone.localdate()
    march = CustomerFactory(birth_date=dt.date(1990, 3, 15))
    CustomerFactory(birth_date=dt.date(1990, 4, 1))
    CustomerFactory(birth_date=None)
    assert members(leaf("customer.birthday_month", "eq", 3)) == ids(march)
    assert members(leaf("customer.birthday_month", "between", [1, 3])) == ids(march)
    # joined ten local days ago (any time that day) vs eleven
    ten = CustomerFactory(
        joined_at=local_day_start(today - dt.timedelta(days=10)) + dt.timedelta(hours=23)
    )
    eleven = CustomerFactory(
        joined_at=local_day_start(today - dt.timedelta(days=11)) + dt.timedelta(hours=1)
    )
    assert members(leaf("customer.joined_days", "eq", 10)) == ids(ten)
    assert members(leaf("customer.joined_days", "between", [10, 11])) == ids(ten, eleven)


def test_customer_tags_has_and_has_not():
    vip = TagFactory(name="vip")
    new = TagFactory(name="new")
    both = CustomerFactory()
    both.tags.add(vip, new)
    only_new = CustomerFactory()
    only_new.tags.add(new)
    none = CustomerFactory()
    assert members(leaf("customer.tags", "has", "vip")) == ids(both)
    assert members(leaf("customer.tags", "has_not", "vip")) == ids(only_new, none)
    assert members(leaf("customer.tags", "has", "gold")) == set()
    assert members(
        {"all": [leaf("customer.tags", "has", "new"), leaf("customer.tags", "has_not", "vip")]}
    ) == ids(only_new)


def test_consent_latest_record_wins():
    # given: granted then withdrawn; withdrawn then granted; never asked; another channel only
    withdrawn = CustomerFactory()
    consent(withdrawn, "email:marketing", granted=True, at=ago(10))
    consent(withdrawn, "email:marketing", granted=False, at=ago(2))
    regranted = CustomerFactory()
    consent(regranted, "email:marketing", granted=False, at=ago(10))
    consent(regranted, "email:marketing", granted=True, at=ago(2))
    never = CustomerFactory()
    sms_only = CustomerFactory()
    consent(sms_only, "sms:marketing", granted=True, at=ago(1))
    # then
    assert members(leaf("consent.granted", "has", "email:marketing")) == ids(regranted)
    assert members(leaf("consent.granted", "has_not", "email:marketing")) == ids(
        withdrawn, never, sms_only
    )
    assert members(leaf("consent.granted", "has", "sms:marketing")) == ids(sms_only)


def test_consent_same_instant_latest_id_wins():
    at = ago(1)
    customer = CustomerFactory()
    consent(customer, "email:surveys", granted=True, at=at)
    consent(customer, "email:surveys", granted=False, at=at)
    assert members(leaf("consent.granted", "has", "email:surveys")) == set()


def test_loyalty_tier_balance_and_lifetime():
    gold = TierFactory(slug="gold", rank=2)
    silver = TierFactory(slug="silver", rank=1)
    g = CustomerFactory()
    account(g, tier=gold, balance=300, lifetime_earned=1000)
    s = CustomerFactory()
    account(s, tier=silver, balance=50, lifetime_earned=50)
    no_tier = CustomerFactory()
    account(no_tier, balance=0)
    CustomerFactory()  # no account
    assert members(leaf("loyalty.tier", "eq", "gold")) == ids(g)
    assert members(leaf("loyalty.tier", "in", ["gold", "silver"])) == ids(g, s)
    assert members(leaf("loyalty.tier", "eq", "platinum")) == set()
    assert members(leaf("loyalty.balance", "gte", 50)) == ids(g, s)
    assert members(leaf("loyalty.balance", "between", [0, 49])) == ids(no_tier)
    assert members(leaf("loyalty.lifetime_earned", "gt", 999)) == ids(g)


def test_loyalty_points_expiring_within_the_window():
    # given: 100 points expiring in 10 days and 50 in 60; expired/spent/past lots never count
    soon = CustomerFactory()
    acc = account(soon, balance=150)
    lot(acc, 100, expires_in_days=10)
    lot(acc, 50, expires_in_days=60)
    lot(acc, 70, expires_in_days=5, status="spent")
    lot(acc, 30, expires_in_days=-1)
    later = CustomerFactory()
    lot(account(later, balance=40), 40, expires_in_days=60)
    never_expires = CustomerFactory()
    lot(account(never_expires, balance=40), 40, expires_in_days=None)
    no_account = CustomerFactory()
    # then
    assert members(leaf("loyalty.points_expiring", "eq", 100, days=30)) == ids(soon)
    assert members(leaf("loyalty.points_expiring", "eq", 150, days=90)) == ids(soon)
    assert members(leaf("loyalty.points_expiring", "gte", 40, days=90)) == ids(soon, later)
    assert members(leaf("loyalty.points_expiring", "eq", 0, days=30)) == ids(
        later, never_expires, no_account
    )


def test_metrics_fields_read_the_metrics_row():
    # given: two metrics rows and a customer without one
    a = CustomerFactory()
    metrics(
        a,
        r_score=5,
        f_score=1,
        m_score=3,
        rfm_segment="champions",
        churn_band="low",
        churn_risk=0.1,
        predicted_clv=Decimal("900.00"),
        health_score=90,
        p_alive=0.95,
    )
    b = CustomerFactory()
    metrics(
        b,
        r_score=2,
        f_score=4,
        m_score=3,
        rfm_segment="at_risk",
        churn_band="high",
        churn_risk=0.8,
        predicted_clv=Decimal("100.00"),
        health_score=20,
        p_alive=0.3,
    )
    none = CustomerFactory()
    # then
    assert members(leaf("metrics.r_score", "eq", 5)) == ids(a)
    assert members(leaf("metrics.f_score", "gte", 2)) == ids(b)
    assert members(leaf("metrics.m_score", "eq", 3)) == ids(a, b)
    assert members(leaf("metrics.rfm_segment", "in", ["at_risk", "lost"])) == ids(b)
    assert members(leaf("metrics.churn_band", "eq", "high")) == ids(b)
    assert members(leaf("metrics.churn_risk", "lt", 0.5)) == ids(a)
    assert members(leaf("metrics.clv", "between", [100, 899.99])) == ids(b)
    assert members(leaf("metrics.health_score", "gte", 20)) == ids(a, b)
    assert members(leaf("metrics.p_alive", "gt", 0.5)) == ids(a)
    # no metrics row: no comparison matches; "not" of one does
    assert members(leaf("metrics.health_score", "lte", 100)) == ids(a, b)
    assert members({"not": leaf("metrics.health_score", "gte", 50)}) == ids(b, none)
    assert members({"not": leaf("metrics.churn_band", "in", ["low"])}) == ids(b, none)


def test_metrics_ne_and_not_in_do_not_match_a_customer_without_metrics():
    a = CustomerFactory()
    metrics(a, r_score=5, churn_band="low")
    b = CustomerFactory()
    metrics(b, r_score=2, churn_band="high")
    CustomerFactory()  # no metrics row
    assert members(leaf("metrics.r_score", "ne", 5)) == ids(b)
    assert members(leaf("metrics.churn_band", "not_in", ["low"])) == ids(b)


def test_surveys_last_nps_group_latest_answer_wins():
    # given: promoter then detractor; detractor then promoter; an answer without an NPS score
    turned = CustomerFactory()
    nps_answer(turned, score=10, group="promoter", submitted_at=ago(30))
    nps_answer(turned, score=3, group="detractor", submitted_at=ago(2))
    nps_answer(turned, score=None, group="", submitted_at=ago(1))
    won = CustomerFactory()
    nps_answer(won, score=2, group="detractor", submitted_at=ago(30))
    nps_answer(won, score=9, group="promoter", submitted_at=ago(2))
    passive = CustomerFactory()
    nps_answer(passive, score=7, group="passive", submitted_at=ago(3))
    CustomerFactory()  # never answered
    # then
    assert members(leaf("surveys.last_nps_group", "eq", "detractor")) == ids(turned)
    assert members(leaf("surveys.last_nps_group", "eq", "promoter")) == ids(won)
    assert members(leaf("surveys.last_nps_group", "in", ["promoter", "passive"])) == ids(
        won, passive
    )


def test_surveys_last_nps_group_ne_does_not_match_a_customer_who_never_answered():
    passive = CustomerFactory()
    nps_answer(passive, score=7, group="passive", submitted_at=ago(3))
    CustomerFactory()  # never answered
    assert members(leaf("surveys.last_nps_group", "ne", "promoter")) == ids(passive)
    assert members(leaf("surveys.last_nps_group", "not_in", ["detractor"])) == ids(passive)


def test_complaints_open_ticket_and_count():
    # given: an open ticket; a resolved one; a closed one; three tickets, one 100 days old
    open_ = CustomerFactory()
    ticket(open_, created_at=ago(2))
    resolved = CustomerFactory()
    ticket(resolved, created_at=ago(5), resolved_at=ago(1))
    closed = CustomerFactory()
    ticket(closed, created_at=ago(5), resolved_at=ago(3), closed_at=ago(1))
    many = CustomerFactory()
    ticket(many, created_at=ago(100), resolved_at=ago(99))
    ticket(many, created_at=ago(10), resolved_at=ago(9))
    ticket(many, created_at=ago(4), closed_at=ago(3))
    none = CustomerFactory()
    # then
    assert members(leaf("complaints.open_ticket", "eq", True)) == ids(open_)
    assert members(leaf("complaints.open_ticket", "eq", False)) == ids(resolved, closed, many, none)
    assert members(leaf("complaints.count", "eq", 3)) == ids(many)
    assert members(leaf("complaints.count", "eq", 2, days=30)) == ids(many)
    assert members(leaf("complaints.count", "eq", 1)) == ids(open_, resolved, closed)
    assert members(leaf("complaints.count", "eq", 0)) == ids(none)


def test_customer_profile_columns():
    s1 = StoreFactory(code="s1")
    a = CustomerFactory(
        city="Shanghai",
        region="East",
        gender="female",
        source="portal",
        store=s1,
        preferred_language="en",
    )
    b = CustomerFactory(city="Beijing", region="North", gender="male", preferred_language="zh-hans")
    c = CustomerFactory(city="", gender="")
    assert members(leaf("customer.city", "eq", "Shanghai")) == ids(a)
    assert members(leaf("customer.city", "ne", "Shanghai")) == ids(b, c)
    assert members(leaf("customer.city", "in", ["Shanghai", "Beijing"])) == ids(a, b)
    assert members(leaf("customer.city", "not_in", ["Shanghai"])) == ids(b, c)
    assert members(leaf("customer.city", "contains", "JING")) == ids(b)
    assert members(leaf("customer.region", "eq", "North")) == ids(b)
    assert members(leaf("customer.gender", "eq", "female")) == ids(a)
    assert members(leaf("customer.gender", "not_in", ["female", "male"])) == ids(c)
    assert members(leaf("customer.language", "eq", "en")) == ids(a)
    assert members(leaf("customer.source", "eq", "portal")) == ids(a)
    assert members(leaf("customer.store", "eq", "s1")) == ids(a)


# --- groups --------------------------------------------------------------------------------------


def test_empty_all_matches_every_live_customer_and_empty_any_nobody():
    live = CustomerFactory()
    other = CustomerFactory()
    CustomerFactory(merged_into=live, merged_at=timezone.now())
    CustomerFactory(anonymized_at=timezone.now())
    assert members({"all": []}) == ids(live, other)
    assert members({"any": []}) == set()
    assert members({"not": {"any": []}}) == ids(live, other)
    assert members({"all": [{"all": []}, {"not": {"any": []}}]}) == ids(live, other)


def test_empty_all_is_true_inside_not_and_any():
    shanghai = CustomerFactory(city="Shanghai")
    beijing = CustomerFactory(city="Beijing")
    assert members({"not": {"all": []}}) == set()
    assert members({"all": [CITY, {"not": {"all": []}}]}) == set()
    assert members({"any": [CITY, {"all": []}]}) == ids(shanghai, beijing)
    assert members({"any": [{"all": []}, CITY]}) == ids(shanghai, beijing)


def test_merged_and_anonymised_customers_never_match():
    live = CustomerFactory(city="Shanghai")
    CustomerFactory(city="Shanghai", merged_into=live, merged_at=timezone.now())
    CustomerFactory(city="Shanghai", anonymized_at=timezone.now())
    assert members(CITY) == ids(live)
    assert members({"not": leaf("customer.city", "eq", "Beijing")}) == ids(live)


def test_all_any_not_combine():
    vip = TagFactory(name="vip")
    a = CustomerFactory(city="Shanghai")
    a.tags.add(vip)
    b = CustomerFactory(city="Shanghai")
    c = CustomerFactory(city="Beijing")
    c.tags.add(vip)
    d = CustomerFactory(city="Hangzhou")
    has_vip = leaf("customer.tags", "has", "vip")
    assert members({"all": [CITY, has_vip]}) == ids(a)
    assert members({"any": [CITY, has_vip]}) == ids(a, b, c)
    assert members({"not": CITY}) == ids(c, d)
    assert members({"all": [{"not": CITY}, {"not": has_vip}]}) == ids(d)
    assert members({"not": {"any": [CITY, has_vip]}}) == ids(d)
    assert members({"any": [{"all": [CITY, {"not": has_vip}]}, {"not": {"not": has_vip}}]}) == ids(
        a, b, c
    )


# --- one statement -------------------------------------------------------------------------------


def test_a_large_segment_is_one_query(django_assert_num_queries):
    # given customers with facts for the fields in the tree
    s1 = StoreFactory(code="s1")
    gold = TierFactory(slug="gold", rank=2)
    vip = TagFactory(name="vip")
    target = CustomerFactory(city="Shanghai", gender="female", birth_date=dt.date(1985, 3, 3))
    target.tags.add(vip)
    account(target, tier=gold, balance=200)
    OrderLineFactory(order=order(target, placed_at=ago(4), store=s1), category="Tea")
    order(target, placed_at=ago(20), store=s1)
    metrics(target, r_score=4, churn_band="low", health_score=75, churn_risk=0.2)
    consent(target, "email:marketing", granted=True, at=ago(3))
    other = CustomerFactory(city="Beijing")
    order(other, placed_at=ago(300))
    tree = {
        "all": [
            leaf("customer.city", "in", ["Shanghai", "Hangzhou"]),
            leaf("customer.age", "between", [18, 80]),
            leaf("customer.tags", "has", "vip"),
            {
                "any": [
                    leaf("loyalty.tier", "eq", "gold"),
                    leaf("loyalty.balance", "gte", 1000),
                    leaf("loyalty.points_expiring", "gt", 0, days=30),
                ]
            },
            leaf("orders.count", "gte", 2, days=90),
            leaf("orders.spend", "gte", 100),
            leaf("orders.days_since_last", "lte", 30),
            leaf("orders.bought_category", "has", "tea"),
            leaf("orders.bought_at_store", "has", "s1"),
            {
                "not": {
                    "any": [
                        leaf("metrics.churn_band", "eq", "high"),
                        leaf("complaints.open_ticket", "eq", True),
                        leaf("complaints.count", "gte", 3, days=365),
                        leaf("surveys.last_nps_group", "eq", "detractor"),
                    ]
                }
            },
            leaf("metrics.health_score", "gte", 50),
            leaf("metrics.r_score", "between", [3, 5]),
            leaf("consent.granted", "has", "email:marketing"),
            leaf("customer.gender", "ne", "male"),
        ]
    }
    fields_used = set()

    def walk(node):
        if "field" in node:
            fields_used.add(node["field"])
        for child in node.get("all", node.get("any", [])):
            walk(child)
        if "not" in node:
            walk(node["not"])

    walk(tree)
    assert len(fields_used) >= 15
    # when the segment is listed; then one statement runs, and it finds the target only
    with django_assert_num_queries(1):
        found = list(segment_customers(tree))
    assert [c.pk for c in found] == [target.pk]
