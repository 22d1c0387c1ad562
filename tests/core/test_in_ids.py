"""``in_ids``: a chunk of ids as one array parameter on PostgreSQL, ``IN`` elsewhere, the same
rows either way."""

import pytest
from django.db import connection

from apps.core.db import in_ids
from apps.customers.models import Customer
from tests.customers.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def test_the_same_rows_as_in():
    people = [CustomerFactory() for _ in range(5)]
    wanted = [people[0].pk, people[3].pk, 10**12]  # one id that matches nothing
    got = set(Customer.objects.filter(in_ids("id", wanted)).values_list("pk", flat=True))
    assert got == set(Customer.objects.filter(pk__in=wanted).values_list("pk", flat=True))
    assert got == {people[0].pk, people[3].pk}
    assert not Customer.objects.filter(in_ids("id", [])).exists()


@pytest.mark.postgres
def test_one_parameter_whatever_the_chunk():
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only")
    sql, params = Customer.objects.filter(in_ids("id", range(1, 2001))).query.sql_with_params()
    assert "= ANY(%s::bigint[])" in sql
    assert len(params) == 1 and len(params[0]) == 2000
