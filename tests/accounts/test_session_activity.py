"""Session activity (allauth.usersessions' "last seen", client and address) is recorded when a
session's client changes and otherwise at most once per ``SESSION_ACTIVITY_INTERVAL``: an
ordinary page costs no write (apps.accounts.middleware.SessionActivityMiddleware)."""

import datetime as dt

import pytest
from allauth.usersessions.models import UserSession
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from tests.conftest import verified_user

pytestmark = pytest.mark.django_db


def _usersession_statements(ctx) -> list[str]:
    return [q["sql"] for q in ctx.captured_queries if "usersessions_usersession" in q["sql"]]


@pytest.fixture
def member():
    return verified_user("seen@test.local")


def _signed_in(user, agent: str = "Phone/1.0 (test)") -> Client:
    client = Client(HTTP_USER_AGENT=agent)
    client.force_login(user)
    return client


def test_first_request_of_a_session_records_it_and_the_next_ones_write_nothing(member):
    client = _signed_in(member)
    client.get("/me/")
    row = UserSession.objects.get(user=member)
    assert row.user_agent == "Phone/1.0 (test)" and row.ip == "127.0.0.1"

    with CaptureQueriesContext(connection) as ctx:
        client.get("/me/")
    assert _usersession_statements(ctx) == []
    assert UserSession.objects.get(user=member).last_seen_at == row.last_seen_at


def test_a_new_client_on_the_same_session_is_recorded_at_once(member):
    client = _signed_in(member)
    client.get("/me/")
    client.defaults["HTTP_USER_AGENT"] = "Laptop/2.0 (test)"
    client.get("/me/")
    assert list(UserSession.objects.filter(user=member).values_list("user_agent", flat=True)) == [
        "Laptop/2.0 (test)"
    ]
    client.defaults["REMOTE_ADDR"] = "10.1.2.3"
    client.get("/me/")
    assert UserSession.objects.get(user=member).ip == "10.1.2.3"


def test_activity_is_recorded_again_once_the_interval_has_passed(member, settings):
    client = _signed_in(member)
    client.get("/me/")
    old = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    UserSession.objects.filter(user=member).update(last_seen_at=old)

    client.get("/me/")  # within the interval: left as it was
    assert UserSession.objects.get(user=member).last_seen_at == old

    cache.clear()  # what the interval's end does to the remembered client
    client.get("/me/")
    assert UserSession.objects.get(user=member).last_seen_at > old


def test_anonymous_requests_are_not_tracked():
    with CaptureQueriesContext(connection) as ctx:
        Client().get("/accounts/login/")
    assert _usersession_statements(ctx) == []
    assert not UserSession.objects.exists()
