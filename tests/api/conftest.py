import pytest
from rest_framework.test import APIClient

from apps.accounts.services import api_key_create
from tests.customers.factories import CustomerFactory, StoreFactory


def client_for(raw: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    return client


@pytest.fixture
def api_key(db):
    """(ApiKey row, raw key)."""
    return api_key_create(name="Till 1")


@pytest.fixture
def api(api_key) -> APIClient:
    return client_for(api_key[1])


@pytest.fixture
def store(db):
    return StoreFactory(code="sh-01", name="Shanghai 1")


@pytest.fixture
def customer(db, store):
    return CustomerFactory(
        member_number="1234567897",
        first_name="Wei",
        last_name="Zhang",
        email="wei.zhang@example.org",
        phone="+8613812345678",
        city="Shanghai",
        store=store,
    )
