"""Portal pages: access scoping (IDOR), no-store, join flows, unsubscribe, export and delete."""

import io
import zipfile

import pytest
from django.urls import reverse

from apps.core.models import AuditEvent
from apps.customers.inbox import portal_message_send
from apps.customers.models import ConsentRecord, Customer, PortalMessage
from apps.customers.services import unsubscribe_token_make
from tests.conftest import verified_user
from tests.customers.factories import CustomerFactory

pytestmark = pytest.mark.django_db

ME_URLS = [
    "portal:overview",
    "portal:card",
    "portal:profile",
    "portal:messages",
    "portal:privacy",
    "portal:delete",
]


@pytest.mark.parametrize("name", ME_URLS)
def test_member_pages_need_login_and_are_never_cached(client, member, name):
    url = reverse(name)
    response = client.get(url)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    client.force_login(member[0])
    response = client.get(url)
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"] and "private" in response["Cache-Control"]


def test_pages_show_only_the_members_own_data(client, member, other_member):
    user, mine = member
    _other_user, theirs = other_member
    client.force_login(user)
    for name in ME_URLS:
        html = client.get(reverse(name)).content.decode()
        assert theirs.member_number not in html and "Olly" not in html
    assert mine.member_number in client.get(reverse("portal:card")).content.decode()


def test_another_members_message_is_not_found_and_stays_unread(client, member, other_member):
    user, mine = member
    _o, theirs = other_member
    own, _ = portal_message_send(customer=mine, subject="Welcome", body="Hello")
    foreign, _ = portal_message_send(customer=theirs, subject="Secret offer", body="Private")
    client.force_login(user)
    assert client.get(reverse("portal:message-detail", args=[foreign.pk])).status_code == 404
    assert client.get(reverse("portal:message-detail", args=[999999])).status_code == 404
    foreign.refresh_from_db()
    assert foreign.read_at is None
    inbox = client.get(reverse("portal:messages")).content.decode()
    assert "Welcome" in inbox and "Secret offer" not in inbox
    response = client.get(reverse("portal:message-detail", args=[own.pk]))
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    own.refresh_from_db()
    assert own.read_at is not None


def test_unread_count_in_the_header(client, member):
    user, mine = member
    portal_message_send(customer=mine, subject="One")
    portal_message_send(customer=mine, subject="Two")
    client.force_login(user)
    html = client.get(reverse("portal:overview")).content.decode()
    assert 'class="portal-dot">2<' in html


def test_profile_update_is_scoped_and_audited(client, member, other_member):
    user, mine = member
    _o, theirs = other_member
    client.force_login(user)
    response = client.post(
        reverse("portal:profile"),
        {
            "first_name": "Mia",
            "last_name": "New",
            "phone": "+8613811112222",
            "city": "Suzhou",
            "preferred_language": "en",
            "preferred_channel": "sms",
        },
    )
    assert response.status_code == 302
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert (mine.last_name, mine.phone, mine.city) == ("New", "+8613811112222", "Suzhou")
    assert theirs.last_name == "Member"
    event = AuditEvent.objects.get(action="customer.update")
    assert (event.actor, event.target_id) == (user, str(mine.pk))
    assert (event.before, event.after) == (
        {"city": "", "phone": "", "last_name": "Member", "preferred_channel": "email"},
        {
            "city": "Suzhou",
            "phone": "+8613811112222",
            "last_name": "New",
            "preferred_channel": "sms",
        },
    )


def test_invalid_phone_on_profile_changes_nothing(client, member):
    user, mine = member
    client.force_login(user)
    before = Customer.objects.values().get(pk=mine.pk)
    response = client.post(
        reverse("portal:profile"),
        {"phone": "12", "preferred_language": "en", "preferred_channel": "email"},
    )
    assert response.status_code == 200
    assert response.context["form"].errors == {"phone": ["“12” is not a valid phone number."]}
    assert "“12” is not a valid phone number." in response.content.decode()
    assert Customer.objects.values().get(pk=mine.pk) == before
    assert not AuditEvent.objects.filter(action="customer.update").exists()


def test_control_character_on_profile_is_a_field_error_and_changes_nothing(client, member):
    user, mine = member
    client.force_login(user)
    before = Customer.objects.values().get(pk=mine.pk)
    response = client.post(
        reverse("portal:profile"),
        {
            "first_name": "Ann\u0007",
            "phone": mine.phone,
            "preferred_language": "en",
            "preferred_channel": "email",
        },
    )
    assert response.status_code == 200
    assert response.context["form"].errors == {
        "first_name": [
            "This text contains an invisible control character (U+0007) that cannot be stored; "
            "remove it."
        ]
    }
    assert Customer.objects.values().get(pk=mine.pk) == before
    assert not AuditEvent.objects.filter(action="customer.update").exists()


def test_preference_centre_writes_history(client, member):
    user, mine = member
    client.force_login(user)
    response = client.post(reverse("portal:privacy"), {"email__marketing": "on"})
    assert response.status_code == 302
    rows = list(ConsentRecord.objects.filter(customer=mine).values_list("channel", "granted"))
    assert rows == [("email", True)]
    client.post(reverse("portal:privacy"), {})
    latest = ConsentRecord.objects.filter(customer=mine).order_by("-at", "-id")[0]
    assert (latest.channel, latest.granted, latest.source) == ("email", False, "portal")
    assert "Stopped" in client.get(reverse("portal:privacy")).content.decode()


def test_signup_keeps_names_and_choices_then_join_enrols(client, mailoutbox):
    response = client.post(
        reverse("account_signup"),
        {
            "first_name": "Sam",
            "last_name": "Signup",
            "email": "sam@test.local",
            "password1": "long-Secret-9876",
            "password2": "long-Secret-9876",
            "consent_email_marketing": "on",
        },
    )
    assert response.status_code == 302
    assert len(mailoutbox) == 1 and "sam@test.local" in mailoutbox[0].to
    from allauth.account.models import EmailAddress

    address = EmailAddress.objects.get(email="sam@test.local")
    address.verified = True
    address.save()
    client.force_login(address.user)
    page = client.get(reverse("portal:join")).content.decode()
    assert 'value="Sam"' in page
    response = client.post(
        reverse("portal:join"),
        {"action": "enrol", "first_name": "Sam", "consent_email_marketing": "on"},
    )
    assert response.status_code == 302 and response["Location"] == reverse("portal:overview")
    customer = Customer.objects.get(user=address.user)
    address.user.refresh_from_db()
    assert customer.source == "portal" and address.user.full_name == "Sam Signup"
    assert sorted(customer.consents.values_list("channel", "purpose", "granted")) == [
        ("email", "marketing", True),
        ("email", "surveys", False),
        ("sms", "marketing", False),
    ]


def test_staff_see_the_refusal_and_cannot_join(client, agent):
    client.force_login(agent)
    page = client.get(reverse("portal:join")).content.decode()
    assert "Staff accounts have no membership" in page
    before = Customer.objects.count()
    response = client.post(reverse("portal:join"), {"action": "enrol"}, follow=True)
    assert response.redirect_chain == [(reverse("portal:join"), 302)]
    assert [str(m) for m in response.context["messages"]] == [
        "Staff accounts cannot hold a membership. Please sign up with a personal e-mail address."
    ]
    assert Customer.objects.count() == before


def test_claim_requests_are_rate_limited(client, sms_outbox):
    CustomerFactory(phone="+8613900000010")
    user = verified_user("rate@test.local")
    client.force_login(user)
    for _ in range(5):
        client.post(reverse("portal:join"), {"action": "phone", "phone": "+8613900000010"})
    assert [message.to for message in sms_outbox] == ["+8613900000010"] * 5
    response = client.post(
        reverse("portal:join"), {"action": "phone", "phone": "+8613900000010"}, follow=True
    )
    assert len(sms_outbox) == 5
    sent = "If this number belongs to a membership, we have sent it a 6-digit code."
    assert [str(m) for m in response.context["messages"]] == [sent] * 5 + [
        "Too many attempts. Please try again in an hour."
    ]


def test_unsubscribe_page_get_changes_nothing_and_post_withdraws(client, member):
    _user, mine = member
    token = unsubscribe_token_make(customer=mine, channel="email", purpose="marketing")
    url = reverse("portal:unsubscribe", args=[token])
    response = client.get(url)
    assert response.status_code == 200 and ConsentRecord.objects.filter(customer=mine).count() == 0
    response = client.post(url)
    assert response.status_code == 200 and "You are unsubscribed" in response.content.decode()
    latest = ConsentRecord.objects.get(customer=mine)
    assert (latest.channel, latest.purpose, latest.granted) == ("email", "marketing", False)


def test_rfc8058_one_click_post_without_csrf(member):
    from django.test import Client

    _user, mine = member
    client = Client(enforce_csrf_checks=True)
    token = unsubscribe_token_make(customer=mine, channel="email", purpose="surveys")
    response = client.post(
        reverse("portal:unsubscribe", args=[token]), {"List-Unsubscribe": "One-Click"}
    )
    assert response.status_code == 200
    record = ConsentRecord.objects.get(customer=mine)
    assert (record.purpose, record.granted, record.evidence) == (
        "surveys",
        False,
        "RFC 8058 one-click",
    )


@pytest.mark.parametrize("method", ["get", "post"])
def test_tampered_unsubscribe_links_give_404_and_record_nothing(client, member, method):
    _user, mine = member
    token = unsubscribe_token_make(customer=mine, channel="email", purpose="marketing")
    bad = token[:-2] + ("xy" if not token.endswith("xy") else "zz")
    response = getattr(client, method)(reverse("portal:unsubscribe", args=[bad]))
    assert response.status_code == 404 and "does not work" in response.content.decode()
    assert ConsentRecord.objects.count() == 0


def test_export_downloads_a_zip_and_is_audited(client, member):
    user, mine = member
    client.force_login(user)
    assert client.get(reverse("portal:export")).status_code == 405
    response = client.post(reverse("portal:export"))
    # force_login is not a recent authentication: allauth asks for the password first.
    assert response.status_code == 302 and "reauthenticate" in response["Location"]
    assert not AuditEvent.objects.filter(action="customer.export").exists()
    response = client.post(response["Location"], {"password": "pw-Secret-123"})
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert "profile.json" in archive.namelist()
    assert mine.member_number in archive.read("profile.json").decode()
    assert AuditEvent.objects.filter(action="customer.export", actor=user).count() == 1


def test_delete_account_needs_confirmation_then_erases_and_signs_out(client, member):
    user, mine = member
    client.post(reverse("account_login"), {"login": user.email, "password": "pw-Secret-123"})
    response = client.post(reverse("portal:delete"), {"confirm": "on"})
    # Sensitive: allauth asks for the password again, then replays the suspended request.
    assert response.status_code == 302 and "reauthenticate" in response["Location"]
    mine.refresh_from_db()
    assert mine.anonymized_at is None
    response = client.post(response["Location"], {"password": "wrong-password"})
    mine.refresh_from_db()
    assert response.status_code == 200 and mine.anonymized_at is None
    client.post(
        reverse("account_reauthenticate") + "?next=" + reverse("portal:privacy"),
        {"password": "pw-Secret-123"},
    )
    response = client.post(reverse("portal:delete"), {})
    assert response.status_code == 200
    mine.refresh_from_db()
    assert mine.anonymized_at is None
    response = client.post(reverse("portal:delete"), {"confirm": "on"})
    assert response.status_code == 302 and response["Location"] == reverse("portal:deleted")
    mine.refresh_from_db()
    assert mine.anonymized_at is not None and mine.first_name == ""
    assert "_auth_user_id" not in client.session
    assert client.get(reverse("portal:overview")).status_code == 302
    assert PortalMessage.objects.filter(customer=mine).count() == 0


def test_staff_export_and_erase_need_their_permissions(client, agent, manager, member):
    _user, mine = member
    export_url = reverse("dashboard:customer-privacy-export", args=[mine.member_number])
    erase_url = reverse("dashboard:customer-erase", args=[mine.member_number])
    # The real routes, mounted in config/urls.py.
    assert export_url == f"/staff/customers/{mine.member_number}/privacy/export/"
    assert erase_url == f"/staff/customers/{mine.member_number}/privacy/erase/"
    client.force_login(agent)
    assert client.get(export_url).status_code == 403
    assert client.post(erase_url, {"member_number": mine.member_number}).status_code == 403
    mine.refresh_from_db()
    assert mine.anonymized_at is None
    client.force_login(manager)
    assert client.get(export_url).status_code == 200
    response = client.post(export_url)
    assert (response.status_code, response["Content-Type"]) == (200, "application/zip")
    assert response["Content-Disposition"].startswith('attachment; filename="')
    assert zipfile.ZipFile(io.BytesIO(response.content)).testzip() is None
    assert AuditEvent.objects.filter(action="customer.export", actor=manager).count() == 1
    response = client.post(erase_url, {"member_number": "0000000000"})
    assert response.status_code == 200
    assert response.context["form"].errors == {
        "member_number": ["The member number does not match."]
    }
    mine.refresh_from_db()
    assert mine.anonymized_at is None and mine.first_name == "Mia"
    assert not AuditEvent.objects.filter(action="customer.erase").exists()
    response = client.post(erase_url, {"member_number": mine.member_number})
    assert response.status_code == 302
    assert response["Location"] == f"/staff/customers/{mine.member_number}/"
    mine.refresh_from_db()
    assert mine.anonymized_at is not None and mine.first_name == ""
    assert AuditEvent.objects.get(action="customer.erase").actor == manager


def test_privacy_summary_for_the_360_page(member):
    from apps.customers.selectors import customer_privacy_summary

    user, mine = member
    summary = customer_privacy_summary(customer=mine)
    assert summary.has_account and summary.account_active
    assert summary.verified_emails == [user.email]
    assert summary.audit_trail[0].action == "membership.claim"


def test_a_member_may_not_take_away_their_last_contact(client, member):
    user, mine = member
    Customer.objects.filter(pk=mine.pk).update(email="", phone="+8613811112222")
    client.force_login(user)
    before = AuditEvent.objects.count()
    response = client.post(
        reverse("portal:profile"),
        {"phone": "", "preferred_language": "en", "preferred_channel": "email"},
    )
    assert response.status_code == 200
    # The portal form has no e-mail field (the login's address is changed elsewhere).
    assert response.context["form"].non_field_errors() == [
        "A member needs an e-mail address or a phone number."
    ]
    mine.refresh_from_db()
    assert mine.phone == "+8613811112222" and AuditEvent.objects.count() == before
