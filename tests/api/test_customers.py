import base64
import datetime as dt
from urllib.parse import parse_qs, urlparse

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.core.models import AuditEvent
from apps.customers.models import ConsentRecord, Customer
from tests.customers.factories import CustomerFactory, StoreFactory, TagFactory

pytestmark = pytest.mark.django_db

LIST = reverse("api:customer-list")


def detail(member_number: str) -> str:
    return reverse("api:customer-detail", args=[member_number])


ENROL = {
    "first_name": "Li",
    "last_name": "Na",
    "email": "Li.Na@Example.org ",
    "phone": "138 0013 8000",
    "birth_date": "1990-05-17",
    "gender": "female",
    "city": "Shanghai",
    "region": "Shanghai",
    "preferred_language": "en",
    "store": "sh-01",
    "consents": [
        {"channel": "email", "purpose": "marketing", "granted": True},
        {"channel": "sms", "purpose": "marketing", "granted": False},
    ],
}


def test_enrol_returns_201_with_the_representation(api, store):
    response = api.post(LIST, ENROL, format="json")
    assert response.status_code == 201, response.json()
    customer = Customer.objects.get()
    body = response.json()
    assert body == {
        "member_number": customer.member_number,
        "first_name": "Li",
        "last_name": "Na",
        "email": "li.na@example.org",
        "phone": "+8613800138000",
        "birth_date": "1990-05-17",
        "gender": "female",
        "city": "Shanghai",
        "region": "Shanghai",
        "preferred_language": "en",
        "preferred_channel": "email",
        "joined_at": body["joined_at"],
        "store": "sh-01",
        "tags": [],
    }
    assert len(customer.member_number) == 10
    assert customer.source == "api" and customer.store == store
    assert abs(customer.joined_at - timezone.now()) < dt.timedelta(seconds=10)
    consents = {(c.channel, c.purpose): (c.granted, c.source) for c in ConsentRecord.objects.all()}
    assert consents == {
        ("email", "marketing"): (True, "api:Till 1"),
        ("sms", "marketing"): (False, "api:Till 1"),
    }
    assert AuditEvent.objects.filter(action="customer.create").count() == 1
    assert "id" not in body


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"phone": "12"}, "phone: “12” is not a valid phone number."),
        ({"email": "", "phone": ""}, "email: A member needs an e-mail address or a phone number."),
        ({"birth_date": "2999-01-01"}, "birth_date: The birth date is in the future."),
        ({"gender": "robot"}, 'gender: "robot" is not a valid choice.'),
        (
            {"first_name": "Ann\u0007"},
            "first_name: This text contains an invisible control character (U+0007) that "
            "cannot be stored; remove it.",
        ),
        (
            {"city": "Shang\x1bhai"},
            "city: This text contains an invisible control character (U+001B) that "
            "cannot be stored; remove it.",
        ),
        (
            {"consents": [{"channel": "fax", "purpose": "marketing", "granted": True}]},
            'consents.0.channel: "fax" is not a valid choice.',
        ),
    ],
)
def test_invalid_enrolment_is_400_and_changes_nothing(api, store, change, message):
    response = api.post(LIST, {**ENROL, **change}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert response.json()["message"] == message
    assert Customer.objects.count() == 0
    assert ConsentRecord.objects.count() == 0
    assert AuditEvent.objects.count() == 1  # the API key's creation only


def test_enrol_at_unknown_store_is_404_and_changes_nothing(api, store):
    response = api.post(LIST, {**ENROL, "store": "nowhere"}, format="json")
    assert response.status_code == 404
    assert response.json() == {"code": "store_not_found", "message": "No store with that code."}
    assert Customer.objects.count() == 0


def test_lookup_by_email_phone_and_member_number(api, customer):
    CustomerFactory(email="other@example.org", phone="+8613900000000")
    for params in (
        {"email": "WEI.zhang@example.org"},
        {"phone": "138-1234-5678"},
        {"phone": "+86 138 1234 5678"},
        {"member_number": "1234567897"},
    ):
        response = api.get(LIST, params)
        assert response.status_code == 200
        results = response.json()["results"]
        assert [r["member_number"] for r in results] == ["1234567897"], params


def test_lookup_with_no_match_is_an_empty_page(api, customer):
    response = api.get(LIST, {"email": "nobody@example.org"})
    assert response.json() == {"next": None, "previous": None, "results": []}


def test_lookup_with_what_is_no_phone_number_matches_nobody(api, customer):
    """A lookup, like the e-mail one: the schema cannot tell a phone number from a string, so
    an unparseable one is an empty page rather than a refusal the schema does not predict."""
    response = api.get(LIST, {"phone": "abc"})
    assert response.status_code == 200
    assert response.json()["results"] == []
    found = api.get(LIST, {"phone": "138 1234 5678"}).json()["results"]
    assert [c["member_number"] for c in found] == [customer.member_number]


def test_list_is_cursor_paginated_newest_first_without_ids(api, django_assert_max_num_queries):
    now = timezone.now()
    tag = TagFactory(name="vip")
    customers = [
        CustomerFactory(joined_at=now - dt.timedelta(days=i), store=StoreFactory(code=f"s{i}"))
        for i in range(5)
    ]
    for c in customers:
        c.tags.add(tag)
    with django_assert_max_num_queries(4):  # key, page, tags (+ last_used touch)
        page1 = api.get(LIST, {"page_size": 3}).json()
    assert [r["member_number"] for r in page1["results"]] == [
        c.member_number for c in customers[:3]
    ]
    assert page1["results"][0]["tags"] == ["vip"] and page1["results"][0]["store"] == "s0"
    assert page1["previous"] is None
    page2 = api.get(page1["next"]).json()
    assert [r["member_number"] for r in page2["results"]] == [
        c.member_number for c in customers[3:]
    ]
    assert page2["next"] is None
    # The cursor holds the position as a join time, never a database id.
    cursor = parse_qs(urlparse(page1["next"]).query)["cursor"][0]
    position = parse_qs(base64.b64decode(cursor).decode())["p"][0]
    assert position == str(customers[2].joined_at)


def test_get_one_member(api, customer):
    customer.tags.add(TagFactory(name="vip"))
    response = api.get(detail("1234567897"))
    assert response.status_code == 200
    body = response.json()
    assert body["member_number"] == "1234567897"
    assert body["first_name"] == "Wei" and body["last_name"] == "Zhang"
    assert body["email"] == "wei.zhang@example.org" and body["phone"] == "+8613812345678"
    assert body["store"] == "sh-01" and body["tags"] == ["vip"]
    assert "id" not in body


def test_patch_changes_only_given_fields_with_an_audit_event(api, customer):
    StoreFactory(code="bj-01")
    response = api.patch(
        detail("1234567897"),
        {"city": "Beijing", "phone": "139 0000 0001", "store": "bj-01"},
        format="json",
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["city"], body["phone"], body["store"]) == ("Beijing", "+8613900000001", "bj-01")
    assert body["email"] == "wei.zhang@example.org" and body["first_name"] == "Wei"
    customer.refresh_from_db()
    assert customer.city == "Beijing" and customer.phone == "+8613900000001"
    event = AuditEvent.objects.get(action="customer.update")
    assert event.after == {"city": "Beijing", "phone": "+8613900000001", "store": customer.store_id}


def test_invalid_patch_is_400_and_changes_nothing(api, customer):
    before = Customer.objects.values().get(pk=customer.pk)
    response = api.patch(detail("1234567897"), {"city": "X", "email": "bad"}, format="json")
    assert response.status_code == 400
    assert response.json() == {
        "code": "validation_error",
        "message": "email: Enter a valid email address.",
        "errors": {"email": ["Enter a valid email address."]},
    }
    assert Customer.objects.values().get(pk=customer.pk) == before
    assert not AuditEvent.objects.filter(action="customer.update").exists()


def test_patch_unknown_member_is_404(api, customer):
    before = Customer.objects.values().get(pk=customer.pk)
    response = api.patch(detail("0000000000"), {"city": "X"}, format="json")
    assert response.status_code == 404
    assert response.json() == {
        "code": "customer_not_found",
        "message": "No customer with that member number.",
    }
    assert Customer.objects.values().get(pk=customer.pk) == before


def test_enrol_with_a_referral_code_registers_the_referral(api, store, customer):
    from apps.loyalty.models import Referral
    from apps.loyalty.services import referral_code_for

    code = referral_code_for(customer=customer).code
    response = api.post(LIST, {**ENROL, "referral_code": code.lower()}, format="json")
    assert response.status_code == 201, response.json()
    referral = Referral.objects.get()
    assert referral.referrer == customer
    assert referral.referee.member_number == response.json()["member_number"]


def test_enrol_with_an_unusable_referral_code_is_409_and_enrols_nobody(api, store, customer):
    from apps.loyalty.models import Referral
    from apps.loyalty.services import referral_code_for

    code = referral_code_for(customer=customer).code
    # Same e-mail as the referrer: that person is already enrolled (the API enrols once).
    body = {**ENROL, "email": customer.email, "referral_code": code}
    response = api.post(LIST, body, format="json")
    assert response.status_code == 409
    assert response.json() == {
        "code": "already_enrolled",
        "message": "A member with this e-mail address or phone number is already enrolled: "
        f"{customer.member_number}.",
    }
    assert Customer.objects.count() == 1 and Referral.objects.count() == 0

    response = api.post(LIST, {**ENROL, "referral_code": "NOPE2345"}, format="json")
    assert response.status_code == 409
    assert response.json() == {
        "code": "not_eligible",
        "message": "There is no referral code “NOPE2345”.",
    }
    assert Customer.objects.count() == 1


def test_patch_may_not_blank_both_email_and_phone(api, customer):
    """The minimum-contact rule of the customers service holds on PATCH too."""
    before = Customer.objects.values_list("email", "phone").get(pk=customer.pk)
    events = AuditEvent.objects.count()
    response = api.patch(detail(customer.member_number), {"email": "", "phone": ""}, format="json")
    assert response.status_code == 400
    assert response.json()["message"] == (
        "email: A member needs an e-mail address or a phone number."
    )
    assert Customer.objects.values_list("email", "phone").get(pk=customer.pk) == before
    assert AuditEvent.objects.count() == events
    # One of the two may go.
    response = api.patch(detail(customer.member_number), {"phone": ""}, format="json")
    assert response.status_code == 200 and response.json()["phone"] == ""


@pytest.mark.parametrize(
    "contact",
    [{"email": "LI.NA@EXAMPLE.ORG", "phone": ""}, {"email": "", "phone": "+86 138-0013-8000"}],
)
def test_enrolling_a_known_contact_is_409_and_names_the_member(api, store, contact):
    """Issue 8, defect 10: the API enrols a person once, as imports skip a known contact."""
    first = api.post(LIST, ENROL, format="json")
    assert first.status_code == 201
    number = first.json()["member_number"]
    before = (Customer.objects.count(), AuditEvent.objects.count())
    response = api.post(LIST, {**ENROL, **contact}, format="json")
    assert response.status_code == 409
    assert response.json() == {
        "code": "already_enrolled",
        "message": "A member with this e-mail address or phone number is already enrolled: "
        f"{number}.",
    }
    assert (Customer.objects.count(), AuditEvent.objects.count()) == before
