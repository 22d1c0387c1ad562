"""Fixtures and helpers every test package shares: staff per role, members with a portal
account, the shared shop (store and customer), API clients holding a key, the SMS outbox."""

import re

import pytest
from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.operations import RunPython
from django.test.utils import CaptureQueriesContext
from django.utils import translation
from rest_framework.test import APIClient

from apps.accounts import roles
from apps.accounts.services import api_key_create
from apps.core import sms
from apps.customers.services import membership_enrol
from tests.accounts.factories import UserFactory
from tests.customers.factories import CustomerFactory, StoreFactory, TagFactory


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


@pytest.fixture(autouse=True)
def _default_language():
    """Each test starts in the default language: a request that the locale middleware answered
    in another language (a refusal before the view) must not leak it into the next test."""
    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.deactivate()


# --- staff ---------------------------------------------------------------------------------------


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
def superuser(db):
    """A superuser in no role group (what ``createsuperuser`` makes)."""
    return UserFactory(email="root@test.local", is_staff=True, is_superuser=True)


# --- members -------------------------------------------------------------------------------------


def with_verified_email(user):
    """Give ``user`` a verified primary address (allauth lets only such accounts log in)."""
    EmailAddress.objects.get_or_create(
        user=user, email=user.email, defaults={"verified": True, "primary": True}
    )
    return user


def verified_user(email: str, **kwargs):
    """A portal account with a verified primary e-mail address and no membership yet."""
    return with_verified_email(UserFactory(email=email, **kwargs))


def enrolled_member(email: str, first_name: str = "Mia", last_name: str = "Member", **kwargs):
    """(user, customer): a portal account enrolled through the membership service."""
    user = verified_user(email, **kwargs)
    return user, membership_enrol(user=user, first_name=first_name, last_name=last_name)


@pytest.fixture
def member_user(db):
    """A portal account without a verified address or membership."""
    return UserFactory(email="member@test.local")


@pytest.fixture
def member(db):
    """(user, customer): Mia Member, enrolled on the portal."""
    return enrolled_member("mia@test.local")


@pytest.fixture
def other_member(db):
    """(user, customer): Olly Member, enrolled on the portal."""
    return enrolled_member("olly@test.local", first_name="Olly")


# --- the shop ------------------------------------------------------------------------------------


@pytest.fixture
def store(db):
    return StoreFactory(code="sh-01", name="Shanghai Jing'an")


@pytest.fixture
def customer(db, store):
    """Wei Zhang, member 1234567897, enrolled at sh-01, tagged vip; no portal account."""
    customer = CustomerFactory(
        member_number="1234567897",
        first_name="Wei",
        last_name="Zhang",
        email="wei.zhang@example.org",
        phone="+8613812345678",
        city="Shanghai",
        store=store,
    )
    customer.tags.add(TagFactory(name="vip"))
    return customer


@pytest.fixture
def import_shop(db):
    """What the import fixture files refer to: stores sh-01 and bj-01, two members."""
    StoreFactory(code="sh-01")
    StoreFactory(code="bj-01")
    CustomerFactory(member_number="1234567897")
    CustomerFactory(member_number="9876543217")


@pytest.fixture
def private_media(settings, tmp_path):
    """Uploaded files (imports) go to a temporary private media root."""
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"
    return settings.PRIVATE_MEDIA_ROOT


# --- the API -------------------------------------------------------------------------------------


def client_for(raw: str) -> APIClient:
    """An API client that sends ``raw`` as its integration key."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    return client


def api_client(name: str) -> APIClient:
    """An API client holding a new integration key called ``name``."""
    return client_for(api_key_create(name=name)[1])


@pytest.fixture
def api_key(db):
    """(ApiKey row, raw key)."""
    return api_key_create(name="Till 1")


@pytest.fixture
def api(api_key) -> APIClient:
    return client_for(api_key[1])


# --- SMS -----------------------------------------------------------------------------------------


@pytest.fixture
def sms_outbox() -> list[sms.SmsMessage]:
    """The messages the test SMS back-end (``apps.core.sms.LocmemSmsBackend``) sent, emptied
    before the test."""
    sms.outbox.clear()
    return sms.outbox


def sms_code(message: sms.SmsMessage) -> str:
    """The six-digit code in a membership-code SMS."""
    return re.search(r"\b\d{6}\b", message.body).group()


# --- query budgets -------------------------------------------------------------------------------


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
