import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.customers.factories import CustomerFactory, StoreFactory, TagFactory


@pytest.fixture
def store(db):
    return StoreFactory(code="sh-01", name="Shanghai Jing'an")


@pytest.fixture
def customer(db, store):
    c = CustomerFactory(
        first_name="Wei",
        last_name="Zhang",
        email="wei.zhang@example.org",
        phone="+8613800001234",
        city="Shanghai",
        store=store,
    )
    c.tags.add(TagFactory(name="vip"))
    return c


@pytest.fixture
def count_queries():
    """Number of queries one GET costs (after a warm-up request, so one-off caches are full)."""

    def run(client, url: str, **kwargs) -> int:
        client.get(url, **kwargs)
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(url, **kwargs)
        assert response.status_code == 200
        return len(ctx)

    return run
