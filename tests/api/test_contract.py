"""Issue 8, defect 10: what the API takes is what its schema says, no more and no less.

The schemathesis run (test_schema_fuzz.py) finds drift; these pin each rule it led to.
"""

import pytest
from django.urls import reverse
from drf_spectacular.generators import SchemaGenerator

from apps.core.models import IdempotencyKey
from apps.customers.models import Customer, Order
from tests.api.conftest import order_payload

pytestmark = pytest.mark.django_db

CUSTOMERS = reverse("api:customer-list")
ORDERS = reverse("api:order-create")
VALIDATE = reverse("api:coupon-validate")


@pytest.fixture(scope="module")
def components(django_db_blocker):
    with django_db_blocker.unblock():
        return SchemaGenerator().get_schema(request=None, public=True)["components"]["schemas"]


def test_required_text_in_requests_is_documented_as_non_blank(components):
    order = components["OrderCreateInputRequest"]["properties"]
    assert order["external_id"]["minLength"] == 1
    assert "minLength" not in components["Customer"]["properties"]["first_name"]


def test_amounts_are_documented_as_strings_or_whole_numbers(components):
    total = components["OrderCreateInputRequest"]["properties"]["total"]
    text, number = total["oneOf"]
    assert not text["pattern"].startswith("^-?")  # no sign: the minimum is 0
    assert number == {"type": "integer", "minimum": 0, "maximum": 9_999_999_999}


def test_enrolment_documents_that_it_needs_a_contact(components):
    enrol = components["CustomerCreateInputRequest"]
    assert {tuple(branch["required"]) for branch in enrol["anyOf"]} == {("email",), ("phone",)}


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("external_id", 12345, "Not a valid string."),
        ("total", 250.5, 'Send this as a string such as "19.90" or as a whole number'),
        ("external_id", " " * 10 + "P" * 60, "no more than 64 characters"),
        ("external_id", "POS\u00071", "control character (U+0007)"),
    ],
)
def test_an_order_field_of_the_wrong_json_type_is_refused(api, order_body, field, value, message):
    response = api.post(ORDERS, order_payload(**{field: value}), format="json")
    assert response.status_code == 400, response.content
    assert response.json()["errors"][field][0].startswith(message) or message in str(
        response.json()["errors"][field]
    )
    assert not Order.objects.exists()


def test_a_whole_json_number_is_an_exact_amount(api, order_body):
    response = api.post(ORDERS, order_payload(total=250), format="json")
    assert response.status_code == 201, response.content
    assert Order.objects.get().total == 250


def test_a_flag_must_be_a_json_boolean(api, store):
    body = {
        "email": "new@example.org",
        "consents": [{"channel": "email", "purpose": "marketing", "granted": "yes"}],
    }
    response = api.post(CUSTOMERS, body, format="json")
    assert response.status_code == 400
    assert response.json()["message"] == "consents.0.granted: Must be true or false."
    assert not Customer.objects.filter(email="new@example.org").exists()


@pytest.mark.parametrize("key", ["two words", "ключ", "tab\tkey"])
def test_an_idempotency_key_is_visible_ascii(api, customer, key):
    response = api.post(
        CUSTOMERS, {"email": "k@example.org"}, format="json", HTTP_IDEMPOTENCY_KEY=key
    )
    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["errors"]
    assert not Customer.objects.filter(email="k@example.org").exists()
    assert not IdempotencyKey.objects.exists()


@pytest.mark.parametrize("body", ["[null, null]", '"text"', "42"])
def test_a_coupon_check_with_a_body_that_is_no_object_is_400_not_500(api, customer, body):
    """The per-member throttle read ``member_number`` from a list and failed."""
    response = api.post(VALIDATE, body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] in {"validation_error", "parse_error"}
