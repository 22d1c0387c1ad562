import pytest
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.operations import RunPython

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


def roles_restore() -> None:
    """Re-run the data migrations that create the role groups and grant their permissions.

    A transactional test (browser tests, concurrency tests) ends with a flush, which also empties
    the tables the data migrations filled; the tests after it would find no roles. The role
    migrations are the RunPython steps named ``create_roles`` / ``grant_*`` in our apps."""
    loader = MigrationExecutor(connection).loader
    state_apps = loader.project_state().apps
    for key in sorted(loader.disk_migrations):
        migration = loader.disk_migrations[key]
        if not migration.__module__.startswith("apps."):
            continue
        for operation in migration.operations:
            name = getattr(getattr(operation, "code", None), "__name__", "")
            if isinstance(operation, RunPython) and (
                name == "create_roles" or name.startswith("grant")
            ):
                operation.code(state_apps, None)


def make_staff(role: str, **kwargs):
    if not Group.objects.filter(name=role, permissions__isnull=False).exists():
        roles_restore()
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


@pytest.fixture
def private_media(settings, tmp_path):
    """Uploaded files (imports) go to a temporary private media root."""
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"
    return settings.PRIVATE_MEDIA_ROOT


@pytest.fixture
def import_shop(db):
    """What the import fixture files refer to: stores sh-01 and bj-01, two members."""
    from tests.customers.factories import CustomerFactory, StoreFactory

    StoreFactory(code="sh-01")
    StoreFactory(code="bj-01")
    CustomerFactory(member_number="1234567897")
    CustomerFactory(member_number="9876543217")
