import pytest
from allauth.mfa.models import Authenticator
from django.core.management import call_command
from django.urls import reverse

from apps.accounts.models import ApiKey, User
from apps.accounts.selectors import api_key_authenticate
from apps.accounts.services import api_key_revoke
from apps.core.models import AuditEvent
from tests.conftest import with_verified_email

pytestmark = pytest.mark.django_db
PASSWORD = "pw-Secret-123"


def _login(client, email, password=PASSWORD):
    return client.post(reverse("account_login"), {"login": email, "password": password})


def test_staff_land_on_the_dashboard(client, agent):
    with_verified_email(agent)
    response = _login(client, "AGENT@test.local")
    assert response.status_code == 302 and response["Location"] == "/staff/"


def test_members_land_on_the_portal(client, member_user):
    with_verified_email(member_user)
    response = _login(client, member_user.email)
    assert response.status_code == 302 and response["Location"] == "/me/"


def test_unverified_email_cannot_log_in(client, member_user):
    response = _login(client, member_user.email)
    assert response.status_code == 302 and "confirm-email" in response["Location"]
    assert "_auth_user_id" not in client.session


def test_email_is_unique_case_insensitively():
    User.objects.create_user("Someone@Example.org", "x")
    with pytest.raises(Exception):  # noqa: B017 - IntegrityError from the functional index
        User.objects.create_user("someone@example.org", "y")


def test_failed_logins_are_rate_limited(client, agent):
    with_verified_email(agent)
    for _ in range(5):
        assert _login(client, agent.email, "wrong").status_code == 200
    # Even the right password is refused while the limit holds.
    response = _login(client, agent.email)
    assert response.status_code == 200 and "_auth_user_id" not in client.session
    assert "Too many failed login attempts" in response.content.decode()


def test_admin_login_goes_through_allauth(client):
    response = client.get("/admin/login/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_members_cannot_open_the_dashboard(client, member_user):
    client.force_login(member_user)
    assert client.get("/staff/").status_code == 403


def test_anonymous_visitors_are_sent_to_login(client):
    response = client.get("/staff/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_staff_need_totp_when_the_setting_requires_it(client, agent, settings):
    settings.STAFF_MFA_REQUIRED = True
    client.force_login(agent)
    response = client.get("/staff/")
    assert response.status_code == 302 and response["Location"] == reverse("mfa_activate_totp")
    Authenticator.objects.create(user=agent, type=Authenticator.Type.TOTP, data={"secret": "x"})
    assert client.get("/staff/").status_code == 200


def test_roles_exist_with_explicit_permissions(agent, marketer, manager, administrator):
    assert agent.has_perm("customers.view_customer") and not agent.has_perm(
        "customers.export_customer"
    )
    assert marketer.has_perm("customers.tag_customer") and not marketer.has_perm(
        "customers.add_customer"
    )
    assert manager.has_perm("customers.export_customer") and manager.has_perm(
        "core.view_auditevent"
    )
    assert administrator.has_perm("accounts.change_apikey")


def test_create_api_key_prints_the_key_once_and_stores_only_its_hash(capsys):
    call_command("create_api_key", "--name", "Till 7")
    raw = capsys.readouterr().out.strip()
    key = ApiKey.objects.get()
    assert raw.startswith(f"clt_{key.prefix}_") and raw not in key.key_hash
    assert key.key_hash == ApiKey.hash(raw)
    assert api_key_authenticate(raw=raw) == key
    assert api_key_authenticate(raw=raw + "x") is None
    api_key_revoke(key=key, actor=None)
    assert api_key_authenticate(raw=raw) is None
    assert list(AuditEvent.objects.values_list("action", flat=True).order_by("id")) == [
        "api_key.create",
        "api_key.revoke",
    ]
