"""Claim and enrol rules (apps.customers.services.membership)."""

import pytest
from allauth.account.models import EmailAddress

from apps.accounts.models import User
from apps.accounts.services import user_phone_set, user_phone_verify
from apps.core.exceptions import Conflict
from apps.core.models import AuditEvent
from apps.core.sms import SmsMessage
from apps.customers.exceptions import (
    AlreadyMember,
    ClaimNotPossible,
    PhoneCodeInvalid,
    StaffCannotBeMember,
)
from apps.customers.models import ConsentRecord, Customer
from apps.customers.selectors import customer_privacy_summary
from apps.customers.services import (
    customer_erase,
    membership_claim_by_phone,
    membership_claim_verified,
    membership_enrol,
    membership_options,
    phone_code_send,
)
from apps.customers.services.membership import REVIEW_TAG
from tests.accounts.factories import UserFactory
from tests.conftest import sms_code, verified_user, with_verified_email
from tests.customers.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def test_verified_email_matching_one_customer_is_claimed_and_audited():
    till = CustomerFactory(email="ann@shop.test", source="store")
    user = verified_user("ann@shop.test")
    assert membership_options(user=user).claimable == till
    customer = membership_claim_verified(user=user)
    assert customer.pk == till.pk and Customer.objects.get(pk=till.pk).user == user
    event = AuditEvent.objects.get(action="membership.claim")
    assert event.target_id == str(till.pk) and event.summary == "email"


def test_unverified_email_claims_nothing():
    till = CustomerFactory(email="ann@shop.test")
    user = UserFactory(email="ann@shop.test")
    EmailAddress.objects.create(user=user, email=user.email, verified=False, primary=True)
    with pytest.raises(ClaimNotPossible):
        membership_claim_verified(user=user)
    assert Customer.objects.get(pk=till.pk).user is None


def test_email_shared_by_two_customers_is_never_guessed():
    a = CustomerFactory(email="fam@shop.test")
    b = CustomerFactory(email="fam@shop.test")
    user = verified_user("fam@shop.test")
    options = membership_options(user=user)
    assert options.email_candidates == 2 and options.claimable is None
    with pytest.raises(ClaimNotPossible):
        membership_claim_verified(user=user)
    assert not Customer.objects.filter(pk__in=[a.pk, b.pk], user__isnull=False).exists()
    # Enrolling anew is allowed and flagged for staff to merge by hand.
    new = membership_enrol(user=user, first_name="Fam")
    assert new.pk not in (a.pk, b.pk) and list(new.tags.values_list("name", flat=True)) == [
        REVIEW_TAG
    ]


def test_email_already_linked_to_another_account_is_never_relinked():
    owner = UserFactory(email="owner@test.local")
    linked = CustomerFactory(email="shared@shop.test", user=owner)
    user = verified_user("shared@shop.test")
    assert membership_options(user=user).email_linked_elsewhere is True
    with pytest.raises(ClaimNotPossible):
        membership_claim_verified(user=user)
    assert Customer.objects.get(pk=linked.pk).user == owner


def test_anonymised_customers_are_never_claimed():
    CustomerFactory(email="gone@shop.test", anonymized_at="2026-01-01T00:00:00Z")
    user = verified_user("gone@shop.test")
    with pytest.raises(ClaimNotPossible):
        membership_claim_verified(user=user)


def test_staff_accounts_are_refused_and_nothing_changes(sms_outbox):
    till = CustomerFactory(email="agent@shop.test")
    staff = verified_user("agent@shop.test", is_staff=True)
    before = Customer.objects.count()
    for call in (
        lambda: membership_claim_verified(user=staff),
        lambda: membership_enrol(user=staff),
        lambda: phone_code_send(user=staff, phone=till.phone),
    ):
        with pytest.raises(StaffCannotBeMember):
            call()
    assert Customer.objects.count() == before and Customer.objects.get(pk=till.pk).user is None
    assert sms_outbox == []


def test_a_member_cannot_claim_a_second_membership():
    user = verified_user("one@test.local")
    membership_enrol(user=user)
    CustomerFactory(email="one@test.local")
    with pytest.raises(AlreadyMember):
        membership_claim_verified(user=user)


def test_phone_claim_needs_the_sms_code(sms_outbox):
    till = CustomerFactory(email="", phone="+8613900000001")
    user = verified_user("new@test.local")
    assert phone_code_send(user=user, phone="139 0000 0001") is True
    code = sms_code(sms_outbox[0])
    assert sms_outbox == [
        SmsMessage(
            to="+8613900000001",
            body=f"Your Clientele membership code is {code}. It expires in 10 minutes.",
        )
    ]
    with pytest.raises(PhoneCodeInvalid):
        membership_claim_by_phone(
            user=user, phone="+8613900000001", code="000000" if code != "000000" else "111111"
        )
    assert Customer.objects.get(pk=till.pk).user is None
    customer = membership_claim_by_phone(user=user, phone="+8613900000001", code=code)
    assert customer.pk == till.pk and customer.user == user


def test_phone_code_is_single_use_and_locks_after_five_wrong_tries(sms_outbox):
    CustomerFactory(phone="+8613900000002")
    user = verified_user("x@test.local")
    phone_code_send(user=user, phone="+8613900000002")
    code = sms_code(sms_outbox[-1])
    for _ in range(5):
        with pytest.raises(PhoneCodeInvalid):
            membership_claim_by_phone(
                user=user, phone="+8613900000002", code="999999" if code != "999999" else "1"
            )
    with pytest.raises(PhoneCodeInvalid):  # right code, but locked out now
        membership_claim_by_phone(user=user, phone="+8613900000002", code=code)
    assert not Customer.objects.filter(user=user).exists()


def test_unknown_phone_gets_no_sms(sms_outbox):
    user = verified_user("y@test.local")
    assert phone_code_send(user=user, phone="+8613900000099") is False
    assert sms_outbox == []


def test_two_customers_sharing_a_phone_need_the_member_number(sms_outbox):
    a = CustomerFactory(phone="+8613900000003")
    b = CustomerFactory(phone="+8613900000003")
    user = verified_user("z@test.local")
    phone_code_send(user=user, phone="+8613900000003")
    with pytest.raises(ClaimNotPossible):
        membership_claim_by_phone(user=user, phone="+8613900000003", code=sms_code(sms_outbox[-1]))
    assert not Customer.objects.filter(user=user).exists()
    phone_code_send(user=user, phone="+8613900000003")
    with pytest.raises(ClaimNotPossible):  # a member number that is not one of them
        membership_claim_by_phone(
            user=user,
            phone="+8613900000003",
            code=sms_code(sms_outbox[-1]),
            member_number=CustomerFactory(phone="+8613900000004").member_number,
        )
    phone_code_send(user=user, phone="+8613900000003")
    customer = membership_claim_by_phone(
        user=user,
        phone="+8613900000003",
        code=sms_code(sms_outbox[-1]),
        member_number=b.member_number,
    )
    assert customer.pk == b.pk and Customer.objects.get(pk=a.pk).user is None


def test_enrol_creates_a_portal_member_with_consents_from_the_form():
    user = verified_user("fresh@test.local")
    customer = membership_enrol(
        user=user,
        first_name="Fresh",
        last_name="Face",
        consents=[("email", "marketing", True), ("sms", "marketing", False)],
        evidence="portal sign-up form",
    )
    assert customer.source == "portal" and customer.user == user
    assert customer.email == "fresh@test.local" and len(customer.member_number) == 10
    rows = list(
        ConsentRecord.objects.filter(customer=customer)
        .values_list("channel", "purpose", "granted", "source", "evidence")
        .order_by("channel")
    )
    assert rows == [
        ("email", "marketing", True, "portal_signup", "portal sign-up form"),
        ("sms", "marketing", False, "portal_signup", "portal sign-up form"),
    ]
    assert set(AuditEvent.objects.values_list("action", flat=True)) >= {
        "customer.create",
        "consent.grant",
        "consent.withdraw",
        "membership.claim",
    }


def test_claim_carries_over_signup_grants_but_not_unticked_boxes():
    till = CustomerFactory(email="keep@shop.test")
    ConsentRecord.objects.create(
        customer=till, channel="sms", purpose="marketing", granted=True, source="store"
    )
    user = verified_user("keep@shop.test")
    membership_claim_verified(
        user=user, consents=[("email", "marketing", True), ("sms", "marketing", False)]
    )
    latest = {
        (r.channel, r.purpose): (r.granted, r.source)
        for r in ConsentRecord.objects.filter(customer=till).order_by("at", "id")
    }
    assert latest == {
        ("sms", "marketing"): (True, "store"),
        ("email", "marketing"): (True, "portal_signup"),
    }


# --- a verified mobile number (allauth's phone sign-in) ------------------------------------------

PHONE = "+8613900000020"


def phone_user(phone: str = PHONE, *, verified: bool = True, email: str | None = None):
    """A portal account that signed up with ``phone`` (and, if given, a verified e-mail)."""
    user = User.objects.create(email=email, phone=phone, phone_verified=verified)
    return with_verified_email(user) if email else user


def test_verified_phone_matching_one_till_customer_is_claimed_as_an_email_is():
    till = CustomerFactory(email="", phone=PHONE, source="store")
    user = phone_user()
    options = membership_options(user=user)
    assert (options.verified_phone, options.phone_candidates, options.claimable) == (
        PHONE,
        1,
        till,
    )
    customer = membership_claim_verified(
        user=user, consents=[("sms", "marketing", True), ("email", "marketing", False)]
    )
    assert customer.pk == till.pk and Customer.objects.get(pk=till.pk).user == user
    assert AuditEvent.objects.get(action="membership.claim").summary == "phone"
    assert ConsentRecord.objects.get(customer=till, channel="sms").granted is True


def test_an_unverified_phone_never_claims_nor_joins_a_membership():
    till = CustomerFactory(email="", phone=PHONE)
    user = phone_user(verified=False)
    options = membership_options(user=user)
    assert (options.verified_phone, options.phone_candidates, options.claimable) == ("", 0, None)
    with pytest.raises(ClaimNotPossible, match="verify your e-mail address or mobile number"):
        membership_claim_verified(user=user)
    with pytest.raises(ClaimNotPossible):
        membership_enrol(user=user)
    assert Customer.objects.get(pk=till.pk).user is None
    assert Customer.objects.count() == 1


def test_an_unverified_phone_beside_a_verified_email_is_left_out():
    till = CustomerFactory(email="", phone=PHONE)
    user = phone_user(verified=False, email="mia@test.local")
    assert membership_options(user=user).claimable is None
    with pytest.raises(ClaimNotPossible):
        membership_claim_verified(user=user)
    new = membership_enrol(user=user, first_name="Mia")
    # The new membership has only what was proved, and shares nothing to review.
    assert (new.email, new.phone) == ("mia@test.local", "")
    assert not new.tags.exists() and Customer.objects.get(pk=till.pk).user is None


def test_phone_shared_by_two_till_customers_is_never_guessed():
    a = CustomerFactory(email="", phone=PHONE)
    b = CustomerFactory(email="", phone=PHONE)
    user = phone_user()
    options = membership_options(user=user)
    assert options.phone_candidates == 2 and options.claimable is None
    with pytest.raises(ClaimNotPossible):
        membership_claim_verified(user=user)
    assert not Customer.objects.filter(pk__in=[a.pk, b.pk], user__isnull=False).exists()
    new = membership_enrol(user=user, first_name="Lei")
    assert new.phone == PHONE and new.email == ""
    assert list(new.tags.values_list("name", flat=True)) == [REVIEW_TAG]


def test_email_and_phone_pointing_at_two_memberships_is_never_guessed():
    by_email = CustomerFactory(email="mia@test.local", phone="")
    by_phone = CustomerFactory(email="", phone=PHONE)
    user = phone_user(email="mia@test.local")
    options = membership_options(user=user)
    assert (options.email_candidates, options.phone_candidates, options.claimable) == (1, 1, None)
    with pytest.raises(ClaimNotPossible):
        membership_claim_verified(user=user)
    new = membership_enrol(user=user)
    assert (new.email, new.phone) == ("mia@test.local", PHONE)
    assert list(new.tags.values_list("name", flat=True)) == [REVIEW_TAG]
    assert not Customer.objects.filter(pk__in=[by_email.pk, by_phone.pk], user=user).exists()


def test_email_and_phone_of_the_same_membership_claim_it():
    till = CustomerFactory(email="mia@test.local", phone=PHONE)
    user = phone_user(email="mia@test.local")
    assert membership_options(user=user).claimable == till
    assert membership_claim_verified(user=user).pk == till.pk
    assert AuditEvent.objects.get(action="membership.claim").summary == "email"


def test_a_phone_already_on_another_accounts_membership_is_flagged():
    owner = UserFactory(email="owner@test.local")
    linked = CustomerFactory(email="", phone=PHONE, user=owner)
    user = phone_user()
    options = membership_options(user=user)
    assert options.phone_linked_elsewhere is True and options.claimable is None
    with pytest.raises(ClaimNotPossible):
        membership_claim_verified(user=user)
    new = membership_enrol(user=user)
    assert list(new.tags.values_list("name", flat=True)) == [REVIEW_TAG]
    assert Customer.objects.get(pk=linked.pk).user == owner


def test_a_verified_new_number_reaches_the_membership_and_an_unverified_one_does_not():
    user = verified_user("mia@test.local")
    customer = membership_enrol(user=user)
    user_phone_set(user=user, phone="139 0000 0021")
    assert Customer.objects.get(pk=customer.pk).phone == ""
    assert user_phone_verify(user=user, phone="139 0000 0021") is True
    assert Customer.objects.get(pk=customer.pk).phone == "+8613900000021"
    # Signing in again by code with the same number changes nothing more.
    assert user_phone_verify(user=user, phone="+8613900000021") is False
    assert AuditEvent.objects.filter(action="customer.update").count() == 1


def test_a_number_verified_elsewhere_is_refused_and_nothing_changes():
    phone_user()
    user = verified_user("mia@test.local")
    with pytest.raises(Conflict):
        user_phone_verify(user=user, phone=PHONE)
    user.refresh_from_db()
    assert (user.phone, user.phone_verified) == ("", False)
    assert not AuditEvent.objects.filter(action="account.phone_verify").exists()


def test_erasure_takes_the_sign_in_number_too():
    user = phone_user()
    customer = membership_enrol(user=user)
    customer_erase(customer=customer, actor=None)
    user.refresh_from_db()
    assert (user.phone, user.phone_verified, user.is_active) == ("", False, False)


def test_staff_see_the_verified_sign_in_number_on_the_privacy_panel():
    user = phone_user()
    customer = membership_enrol(user=user)
    assert customer_privacy_summary(customer=customer).sign_in_phone == PHONE
    User.objects.filter(pk=user.pk).update(phone_verified=False)
    assert (
        customer_privacy_summary(customer=Customer.objects.get(pk=customer.pk)).sign_in_phone == ""
    )
