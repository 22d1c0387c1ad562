import pytest
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.db import connection

from apps.accounts import roles
from tests.accounts.factories import UserFactory


def pytest_collection_modifyitems(config, items):
    if connection.vendor == "postgresql":
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL: set DATABASE_URL (CI does)")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()
    yield


def make_staff(role: str, **kwargs):
    user = UserFactory(is_staff=True, **kwargs)
    user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def agent(db):
    return make_staff(roles.SUPPORT_AGENT, email="agent@test.local", full_name="Ann Agent")


@pytest.fixture
def marketer(db):
    return make_staff(roles.MARKETING, email="marketer@test.local", full_name="Mark Eter")


@pytest.fixture
def manager(db):
    return make_staff(roles.MANAGER, email="manager@test.local", full_name="Mona Manager")


@pytest.fixture
def administrator(db):
    return make_staff(roles.ADMINISTRATOR, email="admin@test.local", is_superuser=True)


@pytest.fixture
def member_user(db):
    return UserFactory(email="member@test.local")
