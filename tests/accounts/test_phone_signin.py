"""Members sign up and sign in with their mobile number: allauth's phone support as configured in
config/settings/base.py, the number kept on the User (apps.accounts.services), codes sent by the
project's SMS back-end (the locmem outbox in tests) and limited per number and per address.

Everything goes through the real views and the real cache (cleared before each test)."""

import re
import time

import pytest
from allauth.account import app_settings as account_settings
from allauth.account.models import EmailAddress
from django.test import Client
from django.urls import reverse
from django.utils import translation

from apps.accounts import adapters
from apps.accounts.models import User
from apps.core.models import AuditEvent
from apps.customers.models import ConsentRecord, Customer
from apps.customers.services import membership_enrol
from tests.conftest import verified_user
from tests.customers.factories import CustomerFactory

pytestmark = pytest.mark.django_db

PHONE = "+8613800138000"
TYPED = "138 0013 8000"  # as a member types it: national form, with spaces
PASSWORD = "pw-Secret-123"
CODE_SMS = re.compile(r"^Your Clientele code is (\d{6})\. Never share it with anyone\.$")


def _code(message) -> str:
    match = CODE_SMS.match(message.body)
    assert match is not None, message.body
    return match.group(1)


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


def _signed_in_as(client) -> int | None:
    value = client.session.get("_auth_user_id")
    return int(value) if value is not None else None


def _phone_member(phone: str = PHONE) -> tuple[User, Customer]:
    """A member who signed up with their phone (verified) and holds a membership."""
    user = User.objects.create(email=None, phone=phone, phone_verified=True, full_name="Li Lei")
    user.set_unusable_password()
    user.save()
    return user, membership_enrol(user=user, first_name="Lei", last_name="Li")


def _sign_up(client, phone: str = TYPED, headers=None, **extra):
    data = {"first_name": "Lei", "last_name": "Li", "phone": phone, **extra}
    return client.post(reverse("account_signup_phone"), data, headers=headers)


# --- sign-up ------------------------------------------------------------------------------------


def test_phone_sign_up_texts_a_code_and_signs_in_once_it_is_typed(client, sms_outbox, mailoutbox):
    response = _sign_up(client, consent_sms_marketing="on")

    assert response.status_code == 302 and response["Location"] == reverse("account_verify_phone")
    user = User.objects.get()
    assert (user.email, user.phone, user.phone_verified) == (None, PHONE, False)
    assert user.full_name == "Lei Li" and not user.has_usable_password()
    assert [m.to for m in sms_outbox] == [PHONE] and mailoutbox == []
    assert _signed_in_as(client) is None

    response = client.post(reverse("account_verify_phone"), {"code": _code(sms_outbox[0])})

    assert response.status_code == 302 and response["Location"] == "/me/"
    assert _signed_in_as(client) == user.pk
    user.refresh_from_db()
    assert user.phone_verified is True and not EmailAddress.objects.filter(user=user).exists()
    assert AuditEvent.objects.get(action="account.phone_verify").summary == "verified ***8000"
    # No membership yet: the join page finds none to claim and creates one with the number.
    assert client.get("/me/")["Location"] == reverse("portal:join")
    page = client.get(reverse("portal:join")).content.decode()
    assert f"Your mobile number {PHONE} is verified" in page
    # The permission ticked at sign-up is ticked on the join form, which the member sends.
    assert re.search(r'<input[^>]*name="consent_sms_marketing"[^>]*checked', page)
    assert not re.search(r'<input[^>]*name="consent_email_marketing"[^>]*checked', page)
    response = client.post(
        reverse("portal:join"),
        {"action": "enrol", "first_name": "Lei", "consent_sms_marketing": "on"},
    )
    assert response.status_code == 302
    customer = Customer.objects.get(user=user)
    assert (customer.phone, customer.email, customer.source) == (PHONE, "", "portal")
    assert ConsentRecord.objects.get(customer=customer, channel="sms").granted is True


def test_a_wrong_sign_up_code_is_refused(client, sms_outbox):
    _sign_up(client)
    response = client.post(reverse("account_verify_phone"), {"code": _wrong(_code(sms_outbox[0]))})

    assert response.status_code == 200 and "Incorrect code." in response.content.decode()
    assert _signed_in_as(client) is None
    assert User.objects.get().phone_verified is False
    assert not AuditEvent.objects.filter(action="account.phone_verify").exists()


def test_a_number_that_is_not_one_is_refused_and_nothing_is_sent(client, sms_outbox):
    response = _sign_up(client, phone="12345")
    assert response.status_code == 200
    assert "is not a valid phone number" in response.content.decode()
    assert not User.objects.exists() and sms_outbox == []


def test_signing_up_with_a_number_that_has_an_account_makes_none(client, sms_outbox):
    user, _customer = _phone_member()
    response = _sign_up(client)
    # Enumeration stays closed: the same code page, and the owner is told by text instead.
    assert response.status_code == 302 and response["Location"] == reverse("account_verify_phone")
    assert list(User.objects.values_list("pk", flat=True)) == [user.pk]
    assert len(sms_outbox) == 1 and "already have a Clientele account" in sms_outbox[0].body
    assert _signed_in_as(client) is None


def test_the_code_is_texted_in_the_members_language(client, sms_outbox, monkeypatch):
    # Which language the text is written in, whatever the catalogue holds today.
    monkeypatch.setattr(adapters, "_", lambda text: f"[{translation.get_language()}] {text}")
    _sign_up(client, headers={"accept-language": "zh-hans"})
    assert User.objects.get().language == "zh-hans"
    assert sms_outbox[0].body.startswith("[zh-hans] Your Clientele code is")
    # Later texts follow the account's language, not the page's.
    code = re.search(r"\b\d{6}\b", sms_outbox[0].body).group()
    client.post(reverse("account_verify_phone"), {"code": code})
    assert User.objects.get().phone_verified is True
    Client().post(
        reverse("account_request_login_code"), {"phone": PHONE}, headers={"accept-language": "en"}
    )
    assert sms_outbox[-1].body.startswith("[zh-hans] Your Clientele code is")


# --- sign-in by code ----------------------------------------------------------------------------


def test_a_phone_member_signs_in_with_a_texted_code(client, sms_outbox):
    user, _customer = _phone_member()
    response = client.post(reverse("account_request_login_code"), {"phone": TYPED})

    assert response.status_code == 302
    assert response["Location"] == reverse("account_confirm_login_code")
    assert [m.to for m in sms_outbox] == [PHONE]
    response = client.post(reverse("account_confirm_login_code"), {"code": _code(sms_outbox[0])})

    assert response.status_code == 302 and response["Location"] == "/me/"
    assert _signed_in_as(client) == user.pk
    assert client.get("/me/").status_code == 200


def test_the_login_page_offers_the_phone_code_form(client, django_assert_max_num_queries):
    with django_assert_max_num_queries(6):
        page = client.get(reverse("account_login")).content.decode()
    assert f'action="{reverse("account_request_login_code")}"' in page
    assert 'name="phone"' in page and "Text me a sign-in code" in page


def test_a_wrong_sign_in_code_is_refused(client, sms_outbox):
    _phone_member()
    client.post(reverse("account_request_login_code"), {"phone": PHONE})
    code = _code(sms_outbox[0])
    response = client.post(reverse("account_confirm_login_code"), {"code": _wrong(code)})
    assert response.status_code == 200 and "Incorrect code." in response.content.decode()
    assert _signed_in_as(client) is None


def test_a_number_that_only_typed_at_sign_up_proves_itself_with_the_login_code(sms_outbox):
    """An abandoned phone sign-up: the first code sent by a sign-in verifies the number."""
    user = User.objects.create(email=None, phone=PHONE, phone_verified=False)
    client = Client()
    client.post(reverse("account_request_login_code"), {"phone": PHONE})
    client.post(reverse("account_confirm_login_code"), {"code": _code(sms_outbox[0])})
    user.refresh_from_db()
    assert _signed_in_as(client) == user.pk and user.phone_verified is True


def test_an_unknown_number_gets_no_code(client, sms_outbox):
    response = client.post(reverse("account_request_login_code"), {"phone": PHONE})
    # Same page as for a member (nothing to enumerate); the text says there is no account.
    assert response.status_code == 302
    assert len(sms_outbox) == 1 and "no account uses it" in sms_outbox[0].body
    assert CODE_SMS.match(sms_outbox[0].body) is None


def test_a_phone_member_who_set_a_password_signs_in_with_number_and_password(client):
    user, _customer = _phone_member()
    user.set_password(PASSWORD)
    user.save()
    response = client.post(reverse("account_login"), {"login": TYPED, "password": PASSWORD})
    assert response.status_code == 302 and _signed_in_as(client) == user.pk


def test_email_sign_in_still_needs_the_verified_address(client, mailoutbox):
    """A verified phone does not weaken e-mail sign-in: an unverified address is held back."""
    user = User.objects.create(email="new@test.local", phone=PHONE, phone_verified=True)
    user.set_password(PASSWORD)
    user.save()
    EmailAddress.objects.create(user=user, email=user.email, verified=False, primary=True)
    response = client.post(reverse("account_login"), {"login": user.email, "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == reverse("account_email_verification_sent")
    assert _signed_in_as(client) is None and len(mailoutbox) == 1


# --- limits -------------------------------------------------------------------------------------


def test_code_requests_for_one_number_are_limited(sms_outbox):
    _phone_member()
    assert account_settings.RATE_LIMITS["request_login_code"] == "20/m/ip,3/m/key"
    url = reverse("account_request_login_code")
    for n in range(3):  # three addresses: the per-number limit holds across them
        assert Client(REMOTE_ADDR=f"10.0.3.{n}").post(url, {"phone": TYPED}).status_code == 302
    response = Client(REMOTE_ADDR="10.0.3.9").post(url, {"phone": PHONE})
    assert response.status_code == 200
    assert "Too many failed login attempts" in response.content.decode()
    assert len(sms_outbox) == 3


def test_texts_to_one_number_are_capped_across_flows(sms_outbox, monkeypatch):
    """After the per-minute request limit has passed, the SMS cap (3 per 10 minutes per number,
    ACCOUNT_RATE_LIMITS["send_sms"]) still refuses a fourth text: 429, nothing sent."""
    _phone_member()
    assert account_settings.RATE_LIMITS["send_sms"] == "3/10m/key,10/d/key,30/h/ip"
    url = reverse("account_request_login_code")
    for n in range(3):
        assert Client(REMOTE_ADDR=f"10.0.4.{n}").post(url, {"phone": PHONE}).status_code == 302
    later = time.time() + 61
    monkeypatch.setattr(time, "time", lambda: later)
    response = Client(REMOTE_ADDR="10.0.4.9").post(url, {"phone": PHONE})
    assert response.status_code == 429 and len(sms_outbox) == 3


def test_a_second_sign_up_text_within_30_seconds_is_refused_not_an_error(sms_outbox):
    _sign_up(Client(REMOTE_ADDR="10.0.5.1"))
    response = _sign_up(Client(REMOTE_ADDR="10.0.5.2"))
    assert response.status_code == 429 and len(sms_outbox) == 1


# --- account settings ---------------------------------------------------------------------------


def test_a_member_adds_a_phone_in_settings_and_the_membership_follows(client, sms_outbox):
    user = verified_user("mia@test.local")
    customer = membership_enrol(user=user, first_name="Mia")
    client.force_login(user)
    url = reverse("account_change_phone")
    response = client.post(url, {"phone": TYPED})
    # Changing how one signs in is sensitive: allauth asks for the password first, then carries
    # on with the change.
    assert response.status_code == 302 and reverse("account_reauthenticate") in response["Location"]
    response = client.post(response["Location"], {"password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == reverse("account_verify_phone")
    user.refresh_from_db()
    assert user.phone == "" and sms_outbox[0].to == PHONE  # stored only once verified

    response = client.post(reverse("account_verify_phone"), {"code": _code(sms_outbox[0])})

    user.refresh_from_db()
    customer.refresh_from_db()
    assert (user.phone, user.phone_verified, customer.phone) == (PHONE, True, PHONE)
    event = AuditEvent.objects.get(action="customer.update", target_id=str(customer.pk))
    assert (event.actor, event.before, event.after) == (user, {"phone": ""}, {"phone": PHONE})
    assert AuditEvent.objects.get(action="account.phone_verify").summary == "added ***8000"
    page = client.get(reverse("portal:profile")).content.decode()
    assert PHONE in page and "Mobile number for signing in" in page


def test_a_number_verified_by_another_account_cannot_be_taken(client, sms_outbox):
    owner, _customer = _phone_member()
    user = verified_user("mia@test.local")
    client.force_login(user)
    client.post(reverse("account_reauthenticate"), {"password": PASSWORD})
    client.post(reverse("account_change_phone"), {"phone": PHONE})
    # Even with the code texted to the number, it stays with the account that verified it.
    response = client.post(reverse("account_verify_phone"), {"code": _code(sms_outbox[-1])})
    assert "A user is already registered with this phone number." in response.content.decode()
    user.refresh_from_db()
    assert (user.phone, user.phone_verified) == ("", False)
    assert list(User.objects.filter(phone=PHONE).values_list("pk", flat=True)) == [owner.pk]
    assert not AuditEvent.objects.filter(action="account.phone_verify").exists()


def test_the_phone_sign_up_page_fits_its_query_budget(client, django_assert_max_num_queries):
    with django_assert_max_num_queries(4):
        response = client.get(reverse("account_signup_phone"))
    page = response.content.decode()
    assert response.status_code == 200 and 'name="phone"' in page and 'name="email"' not in page
    assert 'name="password1"' not in page


def test_the_email_sign_up_page_is_unchanged_but_offers_the_phone(client):
    page = client.get(reverse("account_signup")).content.decode()
    assert 'name="email"' in page and 'name="password1"' in page and 'name="phone"' not in page
    assert reverse("account_signup_phone") in page


def test_a_till_membership_with_the_number_is_offered_after_phone_sign_up(client, sms_outbox):
    till = CustomerFactory(email="", phone=PHONE, source="store")
    _sign_up(client)
    client.post(reverse("account_verify_phone"), {"code": _code(sms_outbox[0])})
    page = client.get(reverse("portal:join")).content.decode()
    assert "We found your membership" in page and till.member_number[-4:] in page
    response = client.post(reverse("portal:join"), {"action": "claim"})
    assert response.status_code == 302 and response["Location"] == reverse("portal:overview")
    assert Customer.objects.get(pk=till.pk).user_id == _signed_in_as(client)
    assert AuditEvent.objects.get(action="membership.claim").summary == "phone"


def test_asking_for_a_new_code_past_the_cap_says_so_and_sends_nothing(
    client, sms_outbox, monkeypatch
):
    _sign_up(client)
    for n in range(2):  # two sign-in codes asked for the same number elsewhere: 3 texts
        Client(REMOTE_ADDR=f"10.0.6.{n}").post(
            reverse("account_request_login_code"), {"phone": PHONE}
        )
    assert len(sms_outbox) == 3
    later = time.time() + 31  # past allauth's one code per 30 seconds, within the 10 minutes
    monkeypatch.setattr(time, "time", lambda: later)
    response = client.post(reverse("account_verify_phone"), {"action": "resend"}, follow=True)
    assert response.status_code == 200
    assert "you are sending too many requests" in response.content.decode()
    assert len(sms_outbox) == 3 and _signed_in_as(client) is None
