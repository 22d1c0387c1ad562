"""Member account flows through django-allauth as configured in config/settings/base.py:
verification before access, login by e-mailed code, password reset, e-mail management,
re-authentication for sensitive actions, user sessions, TOTP, staff MFA and rate limits.

Everything goes through the real views, the locmem outbox and the real cache (cleared before each
test by tests/conftest.py); only the clock of allauth's authentication records is moved."""

import re
import time

import pytest
from allauth.account import app_settings as account_settings
from allauth.account.authentication import AUTHENTICATION_METHODS_SESSION_KEY
from allauth.account.models import EmailAddress
from allauth.mfa import app_settings as mfa_settings
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import SECRET_SESSION_KEY, format_hotp_value, hotp_value
from allauth.mfa.utils import decrypt
from allauth.usersessions.models import UserSession
from django.test import Client
from django.urls import reverse
from django.utils.http import urlencode

from apps.accounts.models import User
from apps.core.models import AuditEvent
from apps.customers.models import Customer
from apps.customers.services import membership_enrol
from tests.conftest import verified_user, with_verified_email

pytestmark = pytest.mark.django_db
PASSWORD = "pw-Secret-123"
NEW_PASSWORD = "brand-New-Secret-4821"
LINK = re.compile(r"http://testserver(/accounts/\S+/)")
SUBJECT_PREFIX = "[Clientele] "


# --- helpers ------------------------------------------------------------------------------------


def _member(email: str = "mia@test.local") -> tuple[User, Customer]:
    user = verified_user(email)
    return user, membership_enrol(user=user, first_name="Mia", last_name="Member")


def _login(client, email: str, password: str = PASSWORD):
    return client.post(reverse("account_login"), {"login": email, "password": password})


def _signed_in_as(client) -> int | None:
    value = client.session.get("_auth_user_id")
    return int(value) if value is not None else None


def _link(message) -> str:
    """The one /accounts/… link in an allauth mail, as a path for the test client."""
    links = LINK.findall(message.body)
    assert len(links) == 1, message.body
    return links[0]


def _login_code(message) -> str:
    """The code sits alone on the line after 'Please enter it in your open browser window.'"""
    match = re.search(r"open browser window\.\n\n(\S+)\n", message.body)
    assert match is not None, message.body
    return match.group(1)


def _totp_now(secret: str) -> str:
    """The current code, computed with allauth's own HOTP helpers. Waits out the last two
    seconds of a period so the code cannot roll over between computing and posting it."""
    period = mfa_settings.TOTP_PERIOD
    if period - time.time() % period < 2:
        time.sleep(2)
    return format_hotp_value(hotp_value(secret, int(time.time()) // period))


def _other_code(code: str) -> str:
    return f"{(int(code) + 1) % 10 ** len(code):0{len(code)}d}"


def _reauth_url(next_url: str) -> str:
    return f"{reverse('account_reauthenticate')}?{urlencode({'next': next_url})}"


def _reauthenticate(client, next_url: str = ""):
    url = reverse("account_reauthenticate") + (f"?next={next_url}" if next_url else "")
    return client.post(url, {"password": PASSWORD})


def _age_authentication(client, seconds: float) -> None:
    """Move every authentication record allauth keeps in the session ``seconds`` into the past
    (allauth stores ``{"method", "at": <unix time>, "reauthenticated"?}`` dicts in a list)."""
    session = client.session
    records = session[AUTHENTICATION_METHODS_SESSION_KEY]
    assert records, "the client has no authentication records to age"
    for record in records:
        record["at"] = time.time() - seconds
    session[AUTHENTICATION_METHODS_SESSION_KEY] = records
    session.save()


def _activate_totp(client) -> str:
    """Set up TOTP for the client's (signed-in) user through allauth's pages; returns the secret."""
    url = reverse("mfa_activate_totp")
    response = client.get(url)
    # Adding an authenticator is sensitive: allauth asks for the password first.
    assert response.status_code == 302
    assert response["Location"] == _reauth_url(url)
    response = client.post(response["Location"], {"password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == url
    assert client.get(url).status_code == 200
    secret = client.session[SECRET_SESSION_KEY]
    response = client.post(url, {"code": _other_code(_totp_now(secret))})
    assert response.status_code == 200 and "Incorrect code." in response.content.decode()
    assert not Authenticator.objects.filter(type=Authenticator.Type.TOTP).exists()
    response = client.post(url, {"code": _totp_now(secret)})
    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_view_recovery_codes")
    return secret


# --- sign-up and e-mail verification ------------------------------------------------------------


def test_signup_needs_the_emailed_link_before_the_portal_opens(client, mailoutbox):
    response = client.post(
        reverse("account_signup"),
        {
            "first_name": "Vera",
            "last_name": "Verify",
            "email": "vera@test.local",
            "password1": NEW_PASSWORD,
            "password2": NEW_PASSWORD,
        },
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("account_email_verification_sent")
    user = User.objects.get(email="vera@test.local")
    assert _signed_in_as(client) is None
    assert EmailAddress.objects.filter(user=user, verified=False).count() == 1
    # Not signed in until the address is verified: the portal sends them to the login page.
    response = client.get("/me/")
    assert response.status_code == 302 and response["Location"] == "/accounts/login/?next=/me/"
    response = _login(client, "vera@test.local", NEW_PASSWORD)
    assert response.status_code == 302
    assert response["Location"] == reverse("account_email_verification_sent")
    assert _signed_in_as(client) is None

    assert len(mailoutbox) == 1  # the login attempt is within the re-send cooldown
    message = mailoutbox[0]
    assert message.to == ["vera@test.local"]
    assert message.subject == SUBJECT_PREFIX + "Please Confirm Your Email Address"
    confirm_url = _link(message)
    assert confirm_url.startswith("/accounts/confirm-email/")
    assert client.get(confirm_url).status_code == 200  # a GET only shows the confirm button
    assert EmailAddress.objects.get(user=user).verified is False
    response = client.post(confirm_url)
    assert response.status_code == 302 and response["Location"] == "/me/"
    assert EmailAddress.objects.get(user=user).verified is True
    assert _signed_in_as(client) == user.pk
    # Signed in now; without a membership yet /me/ leads to the join page.
    response = client.get("/me/")
    assert response.status_code == 302 and response["Location"] == reverse("portal:join")
    assert client.get(reverse("portal:join")).status_code == 200


def test_a_tampered_confirmation_link_verifies_nothing(client, mailoutbox):
    client.post(
        reverse("account_signup"),
        {"email": "tam@test.local", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    confirm_url = _link(mailoutbox[0])
    bad_url = confirm_url[:-3] + ("x" if confirm_url[-3] != "x" else "y") + confirm_url[-2:]
    response = client.post(bad_url)
    assert response.status_code == 404
    assert EmailAddress.objects.get(email="tam@test.local").verified is False
    assert _signed_in_as(client) is None


# --- login by e-mailed code ---------------------------------------------------------------------


def test_login_by_emailed_code(client, mailoutbox):
    user, _customer = _member()
    response = client.post(reverse("account_request_login_code"), {"email": "MIA@test.local"})
    assert response.status_code == 302
    assert response["Location"] == reverse("account_confirm_login_code")
    assert _signed_in_as(client) is None
    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    assert message.to == [user.email] and message.subject == SUBJECT_PREFIX + "Sign-In Code"
    code = _login_code(message)

    response = client.post(reverse("account_confirm_login_code"), {"code": "WRONG1"})
    assert response.status_code == 200 and "Incorrect code." in response.content.decode()
    assert _signed_in_as(client) is None

    response = client.post(reverse("account_confirm_login_code"), {"code": code})
    assert response.status_code == 302 and response["Location"] == "/me/"
    assert _signed_in_as(client) == user.pk
    assert client.get("/me/").status_code == 200


def test_login_code_dies_after_the_allowed_wrong_attempts(client, mailoutbox):
    _member()
    client.post(reverse("account_request_login_code"), {"email": "mia@test.local"})
    code = _login_code(mailoutbox[0])
    attempts = account_settings.LOGIN_BY_CODE_MAX_ATTEMPTS
    assert attempts == 3
    for _ in range(attempts - 1):
        response = client.post(reverse("account_confirm_login_code"), {"code": "WRONG1"})
        assert response.status_code == 200
    response = client.post(reverse("account_confirm_login_code"), {"code": "WRONG1"})
    assert response.status_code == 302
    assert response["Location"] == reverse("account_request_login_code")
    # The right code no longer works: the attempt is over.
    response = client.post(reverse("account_confirm_login_code"), {"code": code})
    assert response.status_code == 302
    assert response["Location"] == reverse("account_request_login_code")
    assert _signed_in_as(client) is None


# --- password reset -----------------------------------------------------------------------------


def test_password_reset_by_emailed_link(client, mailoutbox):
    user, _customer = _member()
    response = client.post(reverse("account_reset_password"), {"email": user.email})
    assert response.status_code == 302
    assert response["Location"] == reverse("account_reset_password_done")
    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    assert message.to == [user.email]
    assert message.subject == SUBJECT_PREFIX + "Password Reset Email"
    reset_url = _link(message)
    assert reset_url.startswith("/accounts/password/reset/key/")

    # allauth moves the key from the URL into the session, then shows the form.
    response = client.get(reset_url)
    assert response.status_code == 302
    assert re.fullmatch(
        r"/accounts/password/reset/key/[0-9a-z]+-set-password/", response["Location"]
    )
    form_url = response["Location"]
    response = client.post(form_url, {"password1": NEW_PASSWORD, "password2": "different-9876"})
    assert response.status_code == 200
    user.refresh_from_db()
    assert user.check_password(PASSWORD) and not user.check_password(NEW_PASSWORD)
    response = client.post(form_url, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == reverse("account_reset_password_from_key_done")
    assert _signed_in_as(client) is None

    old = Client()
    response = _login(old, user.email, PASSWORD)
    assert response.status_code == 200 and _signed_in_as(old) is None
    new = Client()
    response = _login(new, user.email, NEW_PASSWORD)
    assert response.status_code == 302 and response["Location"] == "/me/"
    assert _signed_in_as(new) == user.pk
    # The link is single use.
    response = Client().get(reset_url, follow=True)
    assert "The password reset link was invalid" in response.content.decode()


# --- e-mail management --------------------------------------------------------------------------


def test_add_verify_and_make_a_second_address_primary(client, mailoutbox):
    user, _customer = _member()
    assert _login(client, user.email).status_code == 302
    manage = reverse("account_email")
    add = {"action_add": "", "email": "mia.work@test.local"}

    # Managing addresses is sensitive: the add is suspended until the password is entered again.
    response = client.post(manage, add)
    assert response.status_code == 302
    assert response["Location"] == _reauth_url(manage)
    assert EmailAddress.objects.filter(user=user).count() == 1 and mailoutbox == []
    response = client.post(response["Location"], {"password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == manage
    address = EmailAddress.objects.get(email="mia.work@test.local")
    assert (address.user, address.verified, address.primary) == (user, False, False)
    assert len(mailoutbox) == 1 and mailoutbox[0].to == ["mia.work@test.local"]

    # An unverified address cannot become primary.
    response = client.post(
        manage, {"action_primary": "", "email": "mia.work@test.local"}, follow=True
    )
    assert "Your primary email address must be verified." in response.content.decode()
    assert EmailAddress.objects.get(user=user, primary=True).email == "mia@test.local"
    user.refresh_from_db()
    assert user.email == "mia@test.local"

    response = client.post(_link(mailoutbox[0]))
    assert response.status_code == 302
    address.refresh_from_db()
    assert address.verified is True

    response = client.post(manage, {"action_primary": "", "email": "mia.work@test.local"})
    assert response.status_code == 302 and response["Location"] == manage
    assert list(
        EmailAddress.objects.filter(user=user)
        .order_by("email")
        .values_list("email", "verified", "primary")
    ) == [("mia.work@test.local", True, True), ("mia@test.local", True, False)]
    user.refresh_from_db()
    assert user.email == "mia.work@test.local"
    assert _login(Client(), "mia.work@test.local").status_code == 302


# --- re-authentication before sensitive actions -------------------------------------------------


def test_export_needs_a_recent_reauthentication(client, mailoutbox):
    user, _customer = _member()
    export = reverse("portal:export")
    assert _login(client, user.email).status_code == 302
    assert _reauthenticate(client).status_code == 302
    timeout = account_settings.REAUTHENTICATION_TIMEOUT
    assert timeout == 300

    response = client.post(export)
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    _age_authentication(client, timeout - 10)
    assert client.post(export).status_code == 200
    assert AuditEvent.objects.filter(action="customer.export", actor=user).count() == 2

    _age_authentication(client, timeout + 10)
    response = client.post(export)
    assert response.status_code == 302
    assert response["Location"] == _reauth_url(export)
    assert AuditEvent.objects.filter(action="customer.export", actor=user).count() == 2
    # Still signed in: only the sensitive action waits for the password.
    assert _signed_in_as(client) == user.pk
    assert client.get(reverse("portal:privacy")).status_code == 200

    # Entering the password replays the suspended POST.
    response = client.post(response["Location"], {"password": PASSWORD})
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    assert AuditEvent.objects.filter(action="customer.export", actor=user).count() == 3


def test_delete_is_refused_when_the_last_authentication_is_old(client):
    user, customer = _member()
    delete = reverse("portal:delete")
    assert _login(client, user.email).status_code == 302
    assert _reauthenticate(client).status_code == 302
    _age_authentication(client, account_settings.REAUTHENTICATION_TIMEOUT + 10)
    response = client.post(delete, {"confirm": "on"})
    assert response.status_code == 302
    assert response["Location"] == _reauth_url(delete)
    customer.refresh_from_db()
    assert customer.anonymized_at is None and customer.first_name == "Mia"
    assert _signed_in_as(client) == user.pk
    response = client.post(response["Location"], {"password": "wrong-password"})
    assert response.status_code == 200
    customer.refresh_from_db()
    assert customer.anonymized_at is None


# --- user sessions ------------------------------------------------------------------------------


def test_sessions_page_lists_both_clients_and_ends_the_other(mailoutbox):
    user, _customer = _member()
    phone = Client(HTTP_USER_AGENT="Phone/1.0 (test)")
    laptop = Client(HTTP_USER_AGENT="Laptop/2.0 (test)")
    assert _login(laptop, user.email).status_code == 302
    assert _login(phone, user.email).status_code == 302

    response = phone.get(reverse("usersessions_list"))
    assert response.status_code == 200
    assert response.context["session_count"] == 2
    assert sorted(s.user_agent for s in response.context["sessions"]) == [
        "Laptop/2.0 (test)",
        "Phone/1.0 (test)",
    ]
    html = response.content.decode()
    assert html.count("data-session") == 2
    assert "Laptop/2.0 (test)" in html and "Phone/1.0 (test)" in html
    assert "Sign Out Other Sessions" in html

    response = phone.post(reverse("usersessions_list"))
    assert response.status_code == 302 and response["Location"] == reverse("usersessions_list")
    assert list(UserSession.objects.filter(user=user).values_list("user_agent", flat=True)) == [
        "Phone/1.0 (test)"
    ]
    response = laptop.get("/me/")
    assert response.status_code == 302 and response["Location"] == "/accounts/login/?next=/me/"
    assert _signed_in_as(laptop) is None
    assert phone.get("/me/").status_code == 200


# --- TOTP -----------------------------------------------------------------------------------------


def test_member_can_turn_on_totp_and_then_login_needs_the_code(client):
    user, _customer = _member()
    assert _login(client, user.email).status_code == 302
    secret = _activate_totp(client)
    authenticator = Authenticator.objects.get(user=user, type=Authenticator.Type.TOTP)
    assert decrypt(authenticator.data["secret"]) == secret
    assert Authenticator.objects.filter(user=user, type="recovery_codes").count() == 1
    client.post(reverse("account_logout"))
    assert _signed_in_as(client) is None

    response = _login(client, user.email)
    assert response.status_code == 302 and response["Location"] == reverse("mfa_authenticate")
    assert _signed_in_as(client) is None
    assert client.get("/me/").status_code == 302

    right = _totp_now(secret)
    response = client.post(reverse("mfa_authenticate"), {"code": _other_code(right)})
    assert response.status_code == 200 and "Incorrect code." in response.content.decode()
    assert _signed_in_as(client) is None

    response = client.post(reverse("mfa_authenticate"), {"code": _totp_now(secret)})
    assert response.status_code == 302 and response["Location"] == "/me/"
    assert _signed_in_as(client) == user.pk
    assert client.get("/me/").status_code == 200


def test_members_without_totp_log_in_with_the_password_alone(client):
    user, _customer = _member()
    response = _login(client, user.email)
    assert response.status_code == 302 and response["Location"] == "/me/"
    assert _signed_in_as(client) == user.pk


# --- staff MFA ----------------------------------------------------------------------------------


def test_staff_without_totp_are_sent_to_set_it_up(client, agent, settings):
    settings.STAFF_MFA_REQUIRED = True
    with_verified_email(agent)
    assert _login(client, agent.email).status_code == 302
    for path in ("/staff/", "/staff/customers/", "/admin/"):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response["Location"] == reverse("mfa_activate_totp"), path
    # The set-up pages are outside the guarded prefixes, so there is no redirect loop.
    _activate_totp(client)
    assert client.get("/staff/").status_code == 200


def test_staff_with_only_recovery_codes_still_need_totp(client, agent, settings):
    settings.STAFF_MFA_REQUIRED = True
    Authenticator.objects.create(
        user=agent, type=Authenticator.Type.RECOVERY_CODES, data={"seed": "x"}
    )
    client.force_login(agent)
    response = client.get("/staff/")
    assert response.status_code == 302 and response["Location"] == reverse("mfa_activate_totp")


def test_staff_may_work_without_totp_when_the_setting_is_off(client, agent, settings):
    settings.STAFF_MFA_REQUIRED = False
    client.force_login(agent)
    assert client.get("/staff/").status_code == 200


def test_members_are_not_sent_to_totp_setup(client, settings):
    settings.STAFF_MFA_REQUIRED = True
    user, _customer = _member()
    assert _login(client, user.email).status_code == 302
    for path in ("/me/", "/me/privacy/", reverse("account_email")):
        assert client.get(path).status_code == 200, path
    # A member opening a staff page is refused, not offered a staff set-up.
    assert client.get("/staff/").status_code == 403
    assert not Authenticator.objects.filter(user=user).exists()


# --- rate limits --------------------------------------------------------------------------------


def _limit(action: str) -> int:
    """The per-IP allowance configured in ACCOUNT_RATE_LIMITS, e.g. "20/m/ip" -> 20."""
    for rate in account_settings.RATE_LIMITS[action].split(","):
        amount, _period, *per = rate.split("/")
        if per == ["ip"]:
            return int(amount)
    raise AssertionError(f"no per-IP rate for {action}")


def test_signups_from_one_ip_are_limited(client, mailoutbox):
    limit = _limit("signup")
    assert limit == 20
    for n in range(limit):
        # Mismatched passwords: the attempt counts although nothing is created.
        response = client.post(
            reverse("account_signup"),
            {"email": f"s{n}@test.local", "password1": NEW_PASSWORD, "password2": "x"},
        )
        assert response.status_code == 200
    valid = {"email": "late@test.local", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    response = client.post(reverse("account_signup"), valid)
    assert response.status_code == 429
    assert User.objects.count() == 0 and mailoutbox == []
    # Another address is not affected.
    other = Client(REMOTE_ADDR="10.0.0.2")
    assert other.post(reverse("account_signup"), valid).status_code == 302
    assert list(User.objects.values_list("email", flat=True)) == ["late@test.local"]


def test_login_posts_from_one_ip_are_limited(client):
    user, _customer = _member()
    limit = _limit("login")
    assert limit == 30
    for _ in range(limit):
        assert client.post(reverse("account_login"), {}).status_code == 200
    response = _login(client, user.email)
    assert response.status_code == 429 and _signed_in_as(client) is None
    other = Client(REMOTE_ADDR="10.0.0.2")
    assert _login(other, user.email).status_code == 302 and _signed_in_as(other) == user.pk


def test_login_code_requests_are_limited_per_address(mailoutbox):
    _member()
    assert account_settings.RATE_LIMITS["request_login_code"] == "20/m/ip,3/m/key"
    url = reverse("account_request_login_code")
    # Three clients on three addresses: the per-address limit holds across IPs.
    for n in range(3):
        response = Client(REMOTE_ADDR=f"10.0.1.{n}").post(url, {"email": "mia@test.local"})
        assert response.status_code == 302
    assert len(mailoutbox) == 3
    response = Client(REMOTE_ADDR="10.0.1.9").post(url, {"email": "MIA@test.local"})
    assert response.status_code == 200
    assert "Too many failed login attempts" in response.content.decode()
    assert len(mailoutbox) == 3 and "_auth_user_id" not in Client().session


def test_login_code_requests_from_one_ip_are_limited(mailoutbox):
    _member()
    url = reverse("account_request_login_code")
    # A fresh client each time: a browser with a pending code is sent straight to the code form.
    for n in range(20):
        assert Client().post(url, {"email": f"nobody{n}@test.local"}).status_code == 302
    sent = len(mailoutbox)
    response = Client().post(url, {"email": "mia@test.local"})
    assert response.status_code == 200
    assert "Too many failed login attempts" in response.content.decode()
    assert len(mailoutbox) == sent
    response = Client(REMOTE_ADDR="10.0.0.2").post(url, {"email": "mia@test.local"})
    assert response.status_code == 302 and len(mailoutbox) == sent + 1
