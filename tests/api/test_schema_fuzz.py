"""Issue 8: schemathesis against the published schema, in every ``make test``.

Every operation of ``/api/schema/`` is fuzzed in-process (WSGI) with a fixed seed and a small
example budget, positive and negative, with every response check schemathesis has: no server
error, documented status codes, content types and headers, bodies that match their schema,
schema-valid requests accepted and schema-violating ones refused.

Two kinds of input are left to their own tests, because the schema cannot say them: NUL
characters (refused before any view by ``RequestHygieneMiddleware``, tests/core) and unknown
query parameters (ignored, as HTTP APIs usually do; docs/decisions.md).
"""

import datetime as dt
import json
import os
import random
import re
from decimal import Decimal

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, settings
from rest_framework import serializers
from schemathesis.specs.openapi.checks import positive_data_acceptance

from apps.accounts.services import api_key_create
from apps.api.schema import decimal_pattern
from apps.core.models import IdempotencyKey
from config.wsgi import application
from tests.loyalty.factories import ProgrammeFactory, RewardFactory

pytestmark = pytest.mark.django_db

# Small in every ``make test``; ``API_FUZZ_EXAMPLES=2000 make test PYTEST_ARGS=tests/api`` for
# a longer hunt.
EXAMPLES = int(os.environ.get("API_FUZZ_EXAMPLES", "40"))

# Operations whose input has a meaning a schema cannot hold: a segment's condition tree is an
# object, but which fields, operators and values go together (a tier code for a tier field,
# low ≤ high, days where the field counts them) is checked by ``rules_validate`` and refused
# with 400 ``invalid_rules``; its own tests are tests/analytics/test_rules.py and
# tests/api/test_segments.py. Every other check still runs on it.
MEANING_BEYOND_SCHEMA = {"/api/v1/segments/preview/"}

# The key of the running test: the auth provider below reads it for every generated case.
current_key: dict[str, str] = {}


@pytest.fixture
def in_test_transaction():
    """Requests go straight to the WSGI handler, so keep Django from closing the test's
    connection at the end of each one, as its test client does."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture(autouse=True)
def shop(db, customer, in_test_transaction):
    """A programme, a reward, member 1234567897 and an API key for the operations to use."""
    ProgrammeFactory()
    RewardFactory(slug="tea-set")
    current_key["raw"] = api_key_create(name="Fuzz")[1]


def published_schema():
    """The document ``/api/schema/`` serves, as the fuzzer reads it."""
    document = SchemaGenerator().get_schema(request=None, public=True)
    loaded = schemathesis.openapi.from_dict(json.loads(OpenApiJsonRenderer().render(document)))
    loaded.app = application
    loaded.config.generation.update(allow_x00=False, allow_extra_parameters=False)
    return loaded


schema = published_schema()


@schema.auth(refresh_interval=None)
class FuzzApiKey:
    def get(self, case, context):
        return current_key.get("raw", "")

    def set(self, case, data, context):
        case.headers = {**(case.headers or {}), "Authorization": f"Api-Key {data}"}


def dates_relative_to_now(case) -> None:
    """Orders lie within 20 years back and a day ahead of now, birth dates in the past: a
    schema cannot say so, so a well-formed ``placed_at`` moves to now and a well-formed
    ``birth_date`` to 1990 (both windows have their own tests)."""
    body = case.body
    if not isinstance(body, dict):
        return
    for field, parse, value in (
        ("placed_at", dt.datetime.fromisoformat, timezone.now().isoformat()),
        ("birth_date", dt.date.fromisoformat, "1990-05-17"),
    ):
        if isinstance(body.get(field), str):
            try:
                parse(body[field])
            except ValueError:
                continue
            body[field] = value


def phone_is_a_number(case) -> None:
    """Whether a string is a phone number is libphonenumber's call, not a pattern's: a phone in
    a body becomes a real one (the phone rule has its own tests)."""
    if (
        isinstance(case.body, dict)
        and isinstance(case.body.get("phone"), str)
        and case.body["phone"]
    ):
        case.body["phone"] = "+8613900000000"


def lines_add_up(case) -> None:
    """Lines must add up to the total less the discount (``order_lines_problem``), which a
    schema cannot say either: for well-formed lines the total is set to what they add up to."""
    body = case.body
    if not isinstance(body, dict) or not isinstance(body.get("lines"), list) or not body["lines"]:
        return
    try:
        gross = sum(
            Decimal(str(line.get("quantity", "1"))) * Decimal(str(line["unit_price"]))
            for line in body["lines"]
        )
        net = (gross - Decimal(str(body.get("discount", "0")))).quantize(Decimal("0.01"))
    except (ArithmeticError, KeyError, TypeError, AttributeError):
        return
    if Decimal(0) <= net < Decimal("1e10"):
        body["total"] = str(net)
    else:
        body["lines"] = []


@schema.parametrize()
@settings(
    max_examples=EXAMPLES, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck)
)
def test_every_operation_conforms_to_its_schema(case):
    # Each example is a new request: an Idempotency-Key the generator happens to repeat with
    # another body would rightly be 422, which is the idempotency tests' business.
    IdempotencyKey.objects.all().delete()
    dates_relative_to_now(case)
    lines_add_up(case)
    phone_is_a_number(case)
    excluded = [positive_data_acceptance] if case.path in MEANING_BEYOND_SCHEMA else []
    case.call_and_validate(excluded_checks=excluded)


@pytest.mark.parametrize(
    ("whole", "places", "minimum"),
    [(10, 2, None), (10, 2, Decimal(0)), (10, 2, Decimal("0.01")), (7, 3, Decimal("0.001"))],
)
def test_decimal_pattern_is_exactly_what_the_field_accepts(whole, places, minimum):
    """The documented pattern of an amount admits a string if and only if DRF accepts it."""
    field = serializers.DecimalField(
        max_digits=whole + places, decimal_places=places, min_value=minimum
    )
    pattern = re.compile(
        decimal_pattern(whole_digits=whole, decimal_places=places, minimum=minimum)
    )
    rng = random.Random(8)
    for _ in range(20_000):
        text = "".join(rng.choice("0123456789.-") for _ in range(rng.randint(0, 15)))
        try:
            field.run_validation(text)
            accepted = True
        except serializers.ValidationError:
            accepted = False
        assert accepted == bool(pattern.fullmatch(text)), text
