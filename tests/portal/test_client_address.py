"""Behind a reverse proxy the rate limits key on the real client address (issue 8, defect 11):
allauth's and the portal's read it the same way, from ALLAUTH_TRUSTED_PROXY_COUNT or
ALLAUTH_TRUSTED_CLIENT_IP_HEADER; without them X-Forwarded-For is ignored."""

from types import SimpleNamespace

import pytest
from allauth.account import app_settings as account_settings
from django.test import Client, RequestFactory
from django.urls import reverse

from apps.customers.models import ConsentRecord
from apps.portal.ratelimit import client_ip
from apps.portal.views.privacy import INVALID_TOKENS_PER_MINUTE
from tests.conftest import verified_user

pytestmark = pytest.mark.django_db

PROXY = "10.0.0.1"
ALICE = "198.51.100.7"
BOB = "198.51.100.8"


def via_proxy(client_address: str, **headers) -> dict:
    return {"REMOTE_ADDR": PROXY, "HTTP_X_FORWARDED_FOR": client_address, **headers}


def test_without_a_trusted_proxy_forwarded_for_is_ignored():
    request = RequestFactory().get("/", **via_proxy(ALICE))
    assert client_ip(request) == PROXY


def test_one_trusted_proxy_gives_the_address_it_appended(settings):
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = 1
    # A client may send its own X-Forwarded-For; the proxy appends what it saw.
    request = RequestFactory().get("/", **via_proxy(f"203.0.113.66, {ALICE}"))
    assert client_ip(request) == ALICE
    assert client_ip(RequestFactory().get("/", REMOTE_ADDR=BOB)) == BOB  # no header: direct


def test_a_trusted_client_ip_header(settings):
    settings.ALLAUTH_TRUSTED_CLIENT_IP_HEADER = "X-Real-IP"
    request = RequestFactory().get("/", **via_proxy("203.0.113.66", HTTP_X_REAL_IP=ALICE))
    assert client_ip(request) == ALICE
    assert client_ip(RequestFactory().get("/", REMOTE_ADDR=PROXY)) == "unknown"


def _bad_token(address: str):
    return Client().post(reverse("portal:unsubscribe", args=["forged"]), **via_proxy(address))


@pytest.mark.parametrize(("proxies", "bob_status"), [(1, 404), (0, 429)])
def test_the_portal_limit_is_per_client_behind_a_proxy(settings, monkeypatch, proxies, bob_status):
    # The limit counts in fixed one-minute windows: hold the clock, or a run that crosses a
    # minute boundary starts a new window half-way and never reaches the limit.
    monkeypatch.setattr("apps.portal.ratelimit.time", SimpleNamespace(time=lambda: 1_800_000_000.0))
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = proxies
    for _ in range(INVALID_TOKENS_PER_MINUTE):
        assert _bad_token(ALICE).status_code == 404
    assert _bad_token(ALICE).status_code == 429
    # With the proxy trusted, Bob has his own allowance; without, he shares the proxy's.
    assert _bad_token(BOB).status_code == bob_status
    assert ConsentRecord.objects.count() == 0


@pytest.mark.parametrize(("proxies", "bob_status"), [(1, 302), (0, 429)])
def test_allauth_login_limit_is_per_client_behind_a_proxy(settings, proxies, bob_status):
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = proxies
    user = verified_user("mia@test.local")
    limit = int(account_settings.RATE_LIMITS["login"].split("/")[0])
    alice = Client(**via_proxy(ALICE))
    for _ in range(limit):
        assert alice.post(reverse("account_login"), {}).status_code == 200
    credentials = {"login": user.email, "password": "pw-Secret-123"}
    assert alice.post(reverse("account_login"), credentials).status_code == 429
    bob = Client(**via_proxy(BOB))
    assert bob.post(reverse("account_login"), credentials).status_code == bob_status
