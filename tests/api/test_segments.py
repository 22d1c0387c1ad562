"""``POST /api/v1/segments/preview/`` (DESIGN §6): the count and first members a condition tree
matches now; hostile trees are refused with 400 ``invalid_rules`` before any customer query."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from apps.customers.models import Customer
from tests.customers.factories import CustomerFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/segments/preview/"
CITY = "Shenzhen"
RULES = {"all": [{"field": "customer.city", "op": "eq", "value": CITY}]}
LEAF = {"field": "customer.city", "op": "eq", "value": CITY}
SQL_VALUE = "sh-01'; DROP TABLE customers_customer; --"


def _nested(levels: int) -> dict:
    """A tree ``levels`` deep: groups around one condition (the condition is the last level)."""
    node = dict(LEAF)
    for _ in range(levels - 1):
        node = {"all": [node]}
    return node


@pytest.fixture
def population(db):
    """Three live customers in Shenzhen, two elsewhere, one merged and one anonymised."""
    matching = CustomerFactory.create_batch(3, city=CITY)
    others = CustomerFactory.create_batch(2, city="Beijing")
    CustomerFactory(city=CITY, anonymized_at=timezone.now())
    CustomerFactory(city=CITY, merged_into=matching[0], merged_at=timezone.now())
    return matching, others


def _customer_sql(ctx) -> list[str]:
    return [q["sql"] for q in ctx.captured_queries if "customers_customer" in q["sql"]]


def test_the_route_is_where_the_docs_say(db):
    assert reverse("api:segment-preview") == URL


def test_preview_counts_and_samples_the_matching_members(api, population):
    matching, _others = population
    response = api.post(URL, {"rules": RULES}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json() == {
        "count": 3,
        "sample": [c.member_number for c in sorted(matching, key=lambda c: c.pk)],
    }


def test_the_sample_is_the_first_twenty_by_record(api):
    made = CustomerFactory.create_batch(23, city=CITY)
    response = api.post(URL, {"rules": RULES}, format="json")
    data = response.json()
    assert data["count"] == 23
    assert data["sample"] == [c.member_number for c in sorted(made, key=lambda c: c.pk)[:20]]


def test_no_conditions_is_every_live_customer(api, population):
    response = api.post(URL, {"rules": {"all": []}}, format="json")
    assert response.status_code == 200
    live = Customer.objects.filter(merged_into__isnull=True, anonymized_at__isnull=True)
    assert response.json()["count"] == live.count() == 5


def test_combined_conditions(api, population):
    matching, others = population
    rules = {"any": [LEAF, {"not": {"field": "customer.city", "op": "ne", "value": "Beijing"}}]}
    everyone = sorted(matching + others, key=lambda c: c.pk)
    assert api.post(URL, {"rules": rules}, format="json").json() == {
        "count": 5,
        "sample": [c.member_number for c in everyone],
    }
    nobody = {"all": [LEAF, {"field": "customer.city", "op": "eq", "value": "Beijing"}]}
    assert api.post(URL, {"rules": nobody}, format="json").json() == {"count": 0, "sample": []}


def test_six_levels_and_sixty_nodes_are_accepted(api, population):
    assert api.post(URL, {"rules": _nested(6)}, format="json").status_code == 200
    wide = {"all": [LEAF] * 59}  # the group and 59 conditions: 60 nodes
    response = api.post(URL, {"rules": wide}, format="json")
    assert response.status_code == 200 and response.json()["count"] == 3


def test_sixty_conditions_are_accepted(api, population):
    response = api.post(URL, {"rules": {"all": [LEAF] * 60}}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["count"] == 3


REFUSED = {
    "unknown-field": ({"all": [{"field": "customer.shoe_size", "op": "eq", "value": 42}]}, "shoe"),
    "unknown-operator": (
        {"all": [{"field": "customer.city", "op": "like", "value": "%"}]},
        "customer.city takes the operators",
    ),
    "sql-in-code": (
        {"all": [{"field": "customer.store", "op": "eq", "value": SQL_VALUE}]},
        "is not a code",
    ),
    "sql-in-text": (
        {"all": [{"field": "customer.city", "op": "contains", "value": "x' OR 1=1; --"}]},
        "simple punctuation",
    ),
    "sql-in-a-list": (
        {"all": [{"field": "customer.store", "op": "in", "value": ["sh-01", SQL_VALUE]}]},
        "is not a code",
    ),
    "seven-deep": (_nested(7), "nested too deep"),
    "sixty-one-conditions": ({"all": [LEAF] * 61}, "too many conditions"),
    "extra-key": ({"all": [{**LEAF, "raw": "1=1"}]}, "unknown keys: raw"),
}


@pytest.mark.parametrize(("rules", "words"), REFUSED.values(), ids=REFUSED.keys())
def test_hostile_rules_are_refused_before_any_customer_query(api, population, rules, words):
    api.post(URL, {"rules": RULES}, format="json")  # warm-up: one-off caches are full
    with CaptureQueriesContext(connection) as accepted:
        assert api.post(URL, {"rules": RULES}, format="json").status_code == 200
    with CaptureQueriesContext(connection) as refused:
        response = api.post(URL, {"rules": rules}, format="json")
    assert response.status_code == 400
    data = response.json()
    assert set(data) == {"code", "message"}
    assert data["code"] == "invalid_rules"
    assert words in data["message"]
    assert _customer_sql(refused) == []
    # What a refusal costs is the authentication alone: fewer queries than an accepted preview.
    assert len(refused) == len(accepted) - len(_customer_sql(accepted))


def test_rules_that_are_not_an_object_are_a_validation_error(api, population):
    response = api.post(URL, {"rules": [LEAF]}, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert response.json()["message"].startswith("rules:")


def test_the_message_names_the_place(api, population):
    rules = {"all": [LEAF, {"any": [LEAF, {"field": "nope", "op": "eq", "value": 1}]}]}
    response = api.post(URL, {"rules": rules}, format="json")
    assert response.status_code == 400
    assert response.json()["message"].startswith("all[1].any[1]: unknown field nope")


@pytest.mark.parametrize(
    "body", [{}, {"rule": RULES}, {"rules": None}], ids=["empty", "misspelt", "null"]
)
def test_missing_rules_is_a_validation_error(api, population, body):
    with CaptureQueriesContext(connection) as ctx:
        response = api.post(URL, body, format="json")
    assert response.status_code == 400
    data = response.json()
    assert data["code"] == "validation_error" and data["message"]
    assert _customer_sql(ctx) == []


def test_a_body_that_is_not_json_is_refused(api, population):
    response = api.post(URL, "{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] in ("parse_error", "validation_error")


def test_without_a_key_is_401(population):
    with CaptureQueriesContext(connection) as ctx:
        response = APIClient().post(URL, {"rules": RULES}, format="json")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert _customer_sql(ctx) == []


def test_only_post(api, population):
    assert api.get(URL).status_code == 405
