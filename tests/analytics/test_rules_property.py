"""Property: a segment's SQL finds exactly the customers a plain Python reading of the same rules
finds, on a random small population and a random rule tree.

The Python evaluator below reads the generated facts, never the database. Its semantics: a
comparison on a missing value (no metrics row, a NULL score, no birth date, no loyalty account)
is False; ``not`` is plain boolean negation; ``all``/``any`` are Python's ``all``/``any``."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from apps.analytics.models import CustomerMetrics
from apps.analytics.rules.compiler import segment_customers
from apps.customers.models import Customer, Order, OrderLine, Store, Tag
from apps.loyalty.models import LoyaltyAccount

pytestmark = pytest.mark.django_db

PROPERTY = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

CITIES = ["Shanghai", "Beijing", "Xi'an", ""]
GENDERS = ["", "female", "male", "other"]
CATEGORIES = ["Tea", "coffee", "SNACKS"]
BANDS = ["", "low", "medium", "high"]
TAGS = ["vip", "new"]
# An order is placed this long after the start of its day offset, so a window of whole days
# (compared with "now" when the segment runs) never falls within seconds of an order.
ORDER_OFFSET = dt.timedelta(hours=6)


# --- random data ---------------------------------------------------------------------------------


@st.composite
def orders(draw):
    cents = draw(st.integers(0, 30_000))
    status = draw(st.sampled_from(["paid", "partially_refunded", "refunded"]))
    refunded = {"paid": 0, "refunded": cents}.get(status)
    if refunded is None:
        refunded = draw(st.integers(0, cents))
    return {
        "days_ago": draw(st.integers(0, 199)),
        "total": Decimal(cents) / 100,
        "refunded": Decimal(refunded) / 100,
        "status": status,
        "categories": draw(st.lists(st.sampled_from(CATEGORIES), max_size=2)),
    }


customers = st.fixed_dictionaries(
    {
        "city": st.sampled_from(CITIES),
        "gender": st.sampled_from(GENDERS),
        # (years, shift): born ``years`` years before today, moved by ``shift`` days, so
        # birthdays fall on, just before and just after today
        "born": st.none() | st.tuples(st.integers(18, 40), st.integers(-2, 2)),
        "tags": st.sets(st.sampled_from(TAGS)),
        "balance": st.none() | st.integers(0, 2_000),
        "orders": st.lists(orders(), max_size=4),
        "metrics": st.none()
        | st.fixed_dictionaries(
            {
                "r_score": st.none() | st.integers(1, 5),
                "health_score": st.none() | st.integers(0, 100),
                "churn_band": st.sampled_from(BANDS),
            }
        ),
    }
)
populations = st.lists(customers, min_size=6, max_size=12)


def _leaf(field, op, value, days=None):
    node = {"field": field, "op": op, "value": value}
    if days is not None:
        node["days"] = days
    return node


def _leaf_kinds(*, negative_on_missing: bool) -> dict[str, st.SearchStrategy]:
    """Leaf strategies by kind (field and operator family)."""
    ints = st.integers
    windows = st.none() | st.sampled_from([30, 90, 365])
    city_values = st.sampled_from(["Shanghai", "Beijing", "Xi'an", "Hangzhou"])
    gender_values = st.sampled_from(["female", "male", "other", "undisclosed"])
    age_pair = st.tuples(ints(17, 41), ints(17, 41)).map(sorted).map(list)
    bands = st.sets(st.sampled_from(["low", "medium", "high"]), min_size=1).map(sorted)

    def leaves(field, ops, values, days=None):
        days = st.none() if days is None else days
        return st.builds(_leaf, st.just(field), st.sampled_from(ops), values, days)

    kinds = {
        "city eq/ne": leaves("customer.city", ["eq", "ne"], city_values),
        "city in/not_in": leaves(
            "customer.city", ["in", "not_in"], st.lists(city_values, min_size=1, max_size=3)
        ),
        "city contains": leaves(
            "customer.city", ["contains"], st.sampled_from(["hai", "BEI", "'", "an", "x"])
        ),
        "gender eq/ne": leaves("customer.gender", ["eq", "ne"], gender_values),
        "gender in/not_in": leaves(
            "customer.gender", ["in", "not_in"], st.lists(gender_values, min_size=1, max_size=2)
        ),
        "age gte/lte": leaves("customer.age", ["gte", "lte"], ints(17, 41)),
        "age between": leaves("customer.age", ["between"], age_pair),
        "tags": leaves("customer.tags", ["has", "has_not"], st.sampled_from(TAGS)),
        "orders.count": leaves("orders.count", ["gte", "lt"], ints(0, 5), windows),
        "orders.spend": leaves(
            "orders.spend", ["gte"], ints(0, 60_000).map(lambda c: c / 100), windows
        ),
        "orders.bought_category": leaves(
            "orders.bought_category",
            ["has", "has_not"],
            st.sampled_from(["tea", "COFFEE", "Snacks", "cake"]),
        ),
        "metrics.health_score": leaves("metrics.health_score", ["gte", "lt"], ints(0, 100)),
        "metrics.churn_band in": leaves("metrics.churn_band", ["in"], bands),
        "metrics.r_score eq": leaves("metrics.r_score", ["eq"], ints(1, 5)),
        "loyalty.balance": leaves("loyalty.balance", ["gte", "lt"], ints(0, 2_000)),
    }
    if negative_on_missing:
        kinds["metrics.r_score ne"] = leaves("metrics.r_score", ["ne"], ints(1, 5))
        kinds["metrics.churn_band not_in"] = leaves("metrics.churn_band", ["not_in"], bands)
    return kinds


def _leaves(*, negative_on_missing: bool) -> st.SearchStrategy:
    return st.one_of(list(_leaf_kinds(negative_on_missing=negative_on_missing).values()))


LEAF_KINDS = _leaf_kinds(negative_on_missing=False)


def _trees(leaves, depth: int = 3, *, min_group: int = 1):
    """Rule trees at most ``depth`` levels deep."""
    if depth == 1:
        return leaves
    sub = _trees(leaves, depth - 1, min_group=min_group)
    return st.one_of(
        leaves,
        st.lists(sub, min_size=min_group, max_size=3).map(lambda xs: {"all": xs}),
        st.lists(sub, min_size=min_group, max_size=3).map(lambda xs: {"any": xs}),
        sub.map(lambda x: {"not": x}),
    )


def _birth_date(born: tuple[int, int] | None, today: dt.date) -> dt.date | None:
    if born is None:
        return None
    years, shift = born
    try:
        day = today.replace(year=today.year - years)
    except ValueError:  # 29 February
        day = today.replace(year=today.year - years, day=28)
    return day + dt.timedelta(days=shift)


# --- the database side ---------------------------------------------------------------------------


def _create(population: list[dict], now: dt.datetime, today: dt.date) -> list[int]:
    """Rows for ``population`` (a handful of bulk inserts); the customers' ids, in order."""
    store = Store.objects.create(code="prop-s1", name="Property store")
    tags = {name: Tag.objects.create(name=name) for name in TAGS}
    rows = Customer.objects.bulk_create(
        [
            Customer(
                member_number=f"P{n:09d}",
                city=facts["city"],
                gender=facts["gender"],
                birth_date=_birth_date(facts["born"], today),
                joined_at=now - dt.timedelta(days=400),
            )
            for n, facts in enumerate(population)
        ]
    )
    Customer.tags.through.objects.bulk_create(
        [
            Customer.tags.through(customer_id=row.pk, tag_id=tags[name].pk)
            for row, facts in zip(rows, population, strict=True)
            for name in sorted(facts["tags"])
        ]
    )
    LoyaltyAccount.objects.bulk_create(
        [
            LoyaltyAccount(customer=row, balance=facts["balance"])
            for row, facts in zip(rows, population, strict=True)
            if facts["balance"] is not None
        ]
    )
    CustomerMetrics.objects.bulk_create(
        [
            CustomerMetrics(customer=row, as_of=today, computed_at=now, **facts["metrics"])
            for row, facts in zip(rows, population, strict=True)
            if facts["metrics"] is not None
        ]
    )
    placed = [
        (
            Order(
                store=store,
                customer=row,
                external_id=f"P-{row.pk}-{i}",
                placed_at=now - dt.timedelta(days=o["days_ago"]) - ORDER_OFFSET,
                total=o["total"],
                refunded_amount=o["refunded"],
                status=o["status"],
            ),
            o["categories"],
        )
        for row, facts in zip(rows, population, strict=True)
        for i, o in enumerate(facts["orders"])
    ]
    Order.objects.bulk_create([o for o, _categories in placed])
    OrderLine.objects.bulk_create(
        [
            OrderLine(order=o, sku=f"SKU-{j}", category=category, unit_price=Decimal(1))
            for o, categories in placed
            for j, category in enumerate(categories)
        ]
    )
    return [row.pk for row in rows]


# --- the Python side -----------------------------------------------------------------------------


def _age(born: dt.date, today: dt.date) -> int:
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def _compare(actual, op: str, value) -> bool:
    if actual is None:
        return False  # a comparison on a missing value
    return {
        "eq": lambda: actual == value,
        "ne": lambda: actual != value,
        "gt": lambda: actual > value,
        "gte": lambda: actual >= value,
        "lt": lambda: actual < value,
        "lte": lambda: actual <= value,
        "between": lambda: value[0] <= actual <= value[1],
        "in": lambda: actual in value,
        "not_in": lambda: actual not in value,
    }[op]()


def _leaf_holds(node: dict, facts: dict, today: dt.date) -> bool:
    field, op, value, days = node["field"], node["op"], node["value"], node.get("days")
    paid = [o for o in facts["orders"] if o["status"] != "refunded"]
    if days is not None:
        paid = [o for o in paid if o["days_ago"] < days]
    metrics = facts["metrics"] or {}
    if field == "customer.city":
        if op == "contains":
            return value.lower() in facts["city"].lower()
        return _compare(facts["city"], op, value)
    if field == "customer.gender":
        return _compare(facts["gender"], op, value)
    if field == "customer.age":
        if facts["born"] is None:
            return False
        return _compare(_age(_birth_date(facts["born"], today), today), op, value)
    if field == "customer.tags":
        return (value in facts["tags"]) == (op == "has")
    if field == "orders.count":
        return _compare(len(paid), op, value)
    if field == "orders.spend":
        spend = sum((o["total"] - o["refunded"] for o in paid), Decimal(0))
        return _compare(spend, op, Decimal(str(value)))
    if field == "orders.bought_category":
        bought = {c.lower() for o in facts["orders"] for c in o["categories"]}
        return (value.lower() in bought) == (op == "has")
    if field.startswith("metrics."):
        column = field.removeprefix("metrics.")
        return _compare(metrics.get(column), op, value)
    if field == "loyalty.balance":
        return _compare(facts["balance"], op, value)
    raise AssertionError(field)


def _holds(node: dict, facts: dict, today: dt.date) -> bool:
    if "all" in node:
        return all(_holds(child, facts, today) for child in node["all"])
    if "any" in node:
        return any(_holds(child, facts, today) for child in node["any"])
    if "not" in node:
        return not _holds(node["not"], facts, today)
    return _leaf_holds(node, facts, today)


def _check(population: list[dict], tree: dict) -> None:
    now = timezone.now()
    today = timezone.localdate(now)
    with transaction.atomic():
        pks = _create(population, now, today)
        found = set(segment_customers(tree).values_list("pk", flat=True))
        transaction.set_rollback(True)
    expected = {pk for pk, facts in zip(pks, population, strict=True) if _holds(tree, facts, today)}
    assert found == expected, tree


# --- the properties ------------------------------------------------------------------------------


@PROPERTY
@given(population=populations, tree=_trees(_leaves(negative_on_missing=False)))
def test_compiler_equals_python_evaluation(population, tree):
    _check(population, tree)


NO_METRICS = {
    "city": "Shanghai",
    "gender": "",
    "born": None,
    "tags": set(),
    "balance": None,
    "orders": [],
    "metrics": None,
}
WITH_METRICS = {**NO_METRICS, "metrics": {"r_score": 2, "health_score": 50, "churn_band": "high"}}


@pytest.mark.parametrize("kind", sorted(LEAF_KINDS))
def test_each_leaf_and_its_negation_equal_python_evaluation(kind):
    # one kind of leaf at a time finds disagreements that a larger tree can mask
    @PROPERTY
    @given(population=populations, node=LEAF_KINDS[kind], negate=st.booleans())
    def check(population, node, negate):
        _check(population, {"not": node} if negate else node)

    check()


@PROPERTY
@example(population=[NO_METRICS, WITH_METRICS], tree=_leaf("metrics.r_score", "ne", 5))
@given(population=populations, tree=_trees(_leaves(negative_on_missing=True)))
def test_compiler_equals_python_evaluation_with_ne_on_missing_values(population, tree):
    _check(population, tree)


@PROPERTY
@example(population=[NO_METRICS, WITH_METRICS], tree={"not": {"all": []}})
@given(
    population=populations,
    tree=_trees(_leaves(negative_on_missing=False), min_group=0),
)
def test_compiler_equals_python_evaluation_with_empty_groups(population, tree):
    _check(population, tree)
