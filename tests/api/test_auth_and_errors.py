"""Authentication and the error envelope: every error is {"code", "message"}."""

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from apps.accounts.services import api_key_revoke
from apps.api.errors import exception_handler
from apps.customers.models import Customer, Order
from tests.conftest import client_for

pytestmark = pytest.mark.django_db

LIST = reverse("api:customer-list")


def test_missing_key_is_401_not_authenticated(customer):
    response = APIClient().get(LIST)
    assert response.status_code == 401
    assert response.json() == {
        "code": "not_authenticated",
        "message": "Authentication credentials were not provided.",
    }
    assert response["WWW-Authenticate"] == "Api-Key"


def test_unknown_key_is_401_authentication_failed(api_key):
    response = client_for("clt_nope_nope").get(LIST)
    assert response.status_code == 401
    assert response.json() == {
        "code": "authentication_failed",
        "message": "Unknown or revoked API key.",
    }


def test_revoked_key_is_401_and_changes_nothing(api_key, store):
    key, raw = api_key
    api_key_revoke(key=key)
    response = client_for(raw).post(
        LIST, {"first_name": "A", "email": "a@example.org"}, format="json"
    )
    assert response.status_code == 401
    assert response.json() == {
        "code": "authentication_failed",
        "message": "Unknown or revoked API key.",
    }
    assert Customer.objects.count() == 0


def test_other_scheme_is_401(api_key):
    response = APIClient(HTTP_AUTHORIZATION=f"Bearer {api_key[1]}").get(LIST)
    assert response.status_code == 401
    assert response.json() == {
        "code": "not_authenticated",
        "message": "Authentication credentials were not provided.",
    }


def test_valid_key_is_accepted_and_touched(api, api_key):
    assert api_key[0].last_used_at is None
    before = timezone.now()
    assert api.get(LIST).status_code == 200
    api_key[0].refresh_from_db()
    assert before <= api_key[0].last_used_at <= timezone.now()


def test_malformed_json_is_400_parse_error_and_changes_nothing(api, customer):
    response = api.generic(
        "POST", reverse("api:order-create"), '{"external_id": "A-1",', "application/json"
    )
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "parse_error"
    assert body["message"].startswith("JSON parse error")
    assert Order.objects.count() == 0


def test_malformed_json_with_idempotency_key_is_400_and_claims_nothing(api, customer):
    from apps.core.models import IdempotencyKey

    response = api.generic(
        "POST", reverse("api:order-create"), "{nope", "application/json", HTTP_IDEMPOTENCY_KEY="k"
    )
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "parse_error" and body["message"].startswith("JSON parse error")
    assert IdempotencyKey.objects.count() == 0 and Order.objects.count() == 0


def test_wrong_content_type_is_415(api, customer):
    response = api.generic("POST", reverse("api:order-create"), "a=b", "text/plain")
    assert response.status_code == 415
    assert response.json() == {
        "code": "unsupported_media_type",
        "message": 'Unsupported media type "text/plain" in request.',
    }


def test_wrong_method_is_405(api, customer):
    response = api.delete(reverse("api:customer-detail", args=[customer.member_number]))
    assert response.status_code == 405
    assert response.json() == {
        "code": "method_not_allowed",
        "message": 'Method "DELETE" not allowed.',
    }
    assert Customer.objects.filter(pk=customer.pk).exists()


def test_unknown_member_is_404_customer_not_found(api):
    response = api.get(reverse("api:customer-detail", args=["0000000000"]))
    assert response.status_code == 404
    assert response.json() == {
        "code": "customer_not_found",
        "message": "No customer with that member number.",
    }


def test_permission_denied_is_403_with_the_envelope():
    response = exception_handler(PermissionDenied(), {})
    assert response.status_code == 403
    assert response.data == {
        "code": "permission_denied",
        "message": "You do not have permission to perform this action.",
    }


def test_validation_error_names_the_field(api, store):
    response = api.post(LIST, {"email": "not-an-email"}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "validation_error"
    assert body["message"] == "email: Enter a valid email address."
    assert Customer.objects.count() == 0


@pytest.mark.parametrize(
    "path", ["/api/v1/nothing-here/", "/api/v1/customers/1234567897/nope/", "/api/v2/", "/api/"]
)
@pytest.mark.parametrize("method", ["get", "post", "delete"])
def test_unknown_api_path_is_a_json_404_with_the_envelope(api, path, method):
    response = getattr(api, method)(path)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "code": "not_found",
        "message": f"There is no API endpoint at {path}.",
    }


def test_unknown_api_path_is_a_json_404_without_a_key_too():
    response = APIClient().get("/api/v1/nothing-here/")
    assert response.status_code == 404
    assert response.json() == {
        "code": "not_found",
        "message": "There is no API endpoint at /api/v1/nothing-here/.",
    }


def test_api_path_without_its_trailing_slash_still_redirects(api, customer):
    response = api.get("/api/v1/customers/1234567897")
    assert response.status_code == 301
    assert response["Location"] == "/api/v1/customers/1234567897/"


def test_unknown_pages_outside_the_api_stay_html(client, db):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert not response["Content-Type"].startswith("application/json")


def test_a_refused_request_logs_one_line_without_a_traceback(tmp_path):
    """With the real (non-test) LOGGING: a 403 from PermissionDenied, in a view or the API, is
    one warning line on the console — not a traceback, and not twice (Django's own console
    handler on "django" plus the root handler)."""
    import os
    import subprocess
    import sys

    script = (
        "import django, sys\n"
        "django.setup()\n"
        "from django.core.exceptions import PermissionDenied\n"
        "from django.core.handlers.exception import response_for_exception\n"
        "from django.test import RequestFactory\n"
        "try:\n"
        "    raise PermissionDenied\n"
        "except PermissionDenied as exc:\n"
        "    response = response_for_exception(RequestFactory().get('/staff/x/'), exc)\n"
        "assert response.status_code == 403\n"
    )
    env = os.environ | {
        "DJANGO_SETTINGS_MODULE": "config.settings.dev",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'unused.sqlite3'}",
        "LOG_LEVEL": "INFO",
    }
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    assert len(lines) == 1, lines
    # (outside a request the request id is "-")
    assert lines[0].endswith("WARNING django.request [-] Forbidden (Permission denied): /staff/x/")


def _boom(*args, **kwargs):
    raise RuntimeError("a bug")


def test_an_unexpected_failure_under_the_api_is_the_envelope(api_key, customer, monkeypatch):
    """Issue 8: every response under /api/ is {"code", "message"}, a bug's 500 included."""
    monkeypatch.setattr("apps.api.views.customers.CustomerDetailApi.get", _boom)
    client = APIClient(raise_request_exception=False)
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {api_key[1]}")
    response = client.get(reverse("api:customer-detail", args=[customer.member_number]))
    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert response.json()["code"] == "server_error"


def test_an_unexpected_failure_of_a_page_stays_the_html_page(client, agent, monkeypatch):
    monkeypatch.setattr("apps.dashboard.views.home.HomeView.get", _boom)
    client.raise_request_exception = False
    client.force_login(agent)
    response = client.get(reverse("dashboard:home"))
    assert response.status_code == 500
    assert response["Content-Type"].startswith("text/html")


def test_a_request_django_refuses_before_any_view_is_the_envelope(api, settings):
    settings.ALLOWED_HOSTS = ["clientele.example"]
    response = APIClient(raise_request_exception=False).get(
        "/api/v1/customers/", HTTP_HOST="evil.example"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "bad_request"
