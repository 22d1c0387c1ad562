import datetime as dt

import pytest
from django.utils import timezone

from apps.core.exceptions import ValidationFailed
from apps.core.models import AuditEvent
from apps.customers.identifiers import member_number_is_valid
from apps.customers.models import ConsentRecord, Customer, Interaction
from apps.customers.selectors import consent_current, consent_is_granted, customer_list
from apps.customers.services import (
    consent_record,
    customer_create,
    customer_tag_add,
    customer_tag_remove,
    customer_update,
    interaction_log,
)
from tests.customers.factories import CustomerFactory, StoreFactory

pytestmark = pytest.mark.django_db


def test_create_assigns_member_number_normalises_contacts_and_audits(agent):
    store = StoreFactory(code="sh-01")
    customer = customer_create(
        actor=agent,
        first_name=" Wei ",
        last_name="Zhang",
        email="Wei.Zhang@Example.ORG",
        phone="138 1234 5678",
        store=store,
        consents=[("email", "marketing", True)],
    )
    assert member_number_is_valid(customer.member_number)
    assert (customer.first_name, customer.email, customer.phone) == (
        "Wei",
        "wei.zhang@example.org",
        "+8613812345678",
    )
    assert "zhangwei" in customer.search_text and "8613812345678" in customer.search_text
    assert consent_is_granted(customer=customer, channel="email", purpose="marketing")
    actions = list(AuditEvent.objects.values_list("action", flat=True).order_by("id"))
    assert actions == ["consent.grant", "customer.create"]
    assert AuditEvent.objects.get(action="customer.create").actor == agent


def test_create_with_bad_phone_writes_nothing(agent):
    with pytest.raises(ValidationFailed):
        customer_create(actor=agent, first_name="A", phone="12")
    assert Customer.objects.count() == 0 and AuditEvent.objects.count() == 0


def test_birth_date_in_future_is_refused(agent):
    with pytest.raises(ValidationFailed):
        customer_create(
            actor=agent, first_name="A", birth_date=timezone.localdate() + dt.timedelta(days=1)
        )
    assert Customer.objects.count() == 0


def test_update_audits_only_changed_fields(agent):
    customer = CustomerFactory(city="Beijing", phone="+8613800000001")
    customer_update(customer=customer, actor=agent, city="Shanghai", phone="+86 138 0000 0001")
    event = AuditEvent.objects.get(action="customer.update")
    assert event.before == {"city": "Beijing"} and event.after == {"city": "Shanghai"}
    customer.refresh_from_db()
    assert customer.city == "Shanghai"


def test_update_without_change_writes_no_audit(agent):
    customer = CustomerFactory(city="Beijing")
    customer_update(customer=customer, actor=agent, city="Beijing")
    assert not AuditEvent.objects.filter(action="customer.update").exists()


def test_update_refuses_unknown_fields(agent):
    with pytest.raises(TypeError):
        customer_update(customer=CustomerFactory(), actor=agent, member_number="1")


def test_tags_add_once_and_remove(agent):
    customer = CustomerFactory()
    tag = customer_tag_add(customer=customer, name="VIP", actor=agent)
    again = customer_tag_add(customer=customer, name="vip", actor=agent)
    assert tag == again and list(customer.tags.values_list("name", flat=True)) == ["VIP"]
    customer_tag_remove(customer=customer, tag=tag, actor=agent)
    assert customer.tags.count() == 0
    assert list(AuditEvent.objects.values_list("action", flat=True).order_by("id")) == [
        "customer.tag_add",
        "customer.tag_remove",
    ]


def test_latest_consent_wins_and_history_is_kept(agent):
    customer = CustomerFactory()
    consent_record(
        customer=customer, channel="sms", purpose="marketing", granted=True, source="store"
    )
    consent_record(
        customer=customer,
        channel="sms",
        purpose="marketing",
        granted=False,
        source="staff",
        actor=agent,
    )
    assert not consent_is_granted(customer=customer, channel="sms", purpose="marketing")
    assert ConsentRecord.objects.filter(customer=customer).count() == 2
    current = consent_current(customer=customer)
    assert current[("sms", "marketing")].granted is False
    assert current[("email", "surveys")] is None
    assert AuditEvent.objects.filter(action="consent.withdraw", actor=agent).count() == 1


def test_unknown_consent_channel_is_refused():
    customer = CustomerFactory()
    with pytest.raises(ValidationFailed):
        consent_record(
            customer=customer, channel="pigeon", purpose="marketing", granted=True, source="x"
        )
    assert ConsentRecord.objects.count() == 0


def test_interaction_needs_a_summary(agent):
    customer = CustomerFactory()
    with pytest.raises(ValidationFailed):
        interaction_log(customer=customer, kind="call", summary="  ", actor=agent)
    interaction_log(customer=customer, kind="call", summary="Late delivery", actor=agent)
    assert list(Interaction.objects.values_list("summary", flat=True)) == ["Late delivery"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("zhang", {"a"}),
        ("张伟", {"a"}),
        ("1381234", {"a"}),
        ("138-1234", {"a"}),
        ("lily@", {"b"}),
        ("lily chen", {"b"}),
        ("", {"a", "b"}),
        ("nobody", set()),
    ],
)
def test_search_matches_name_phone_email_and_member_number(agent, query, expected):
    a = customer_create(
        actor=agent, first_name="伟", last_name="张", email="zhang@example.org", phone="13812345678"
    )
    b = customer_create(actor=agent, first_name="Lily", last_name="Chen", email="lily@example.org")
    by_key = {"a": a.pk, "b": b.pk}
    found = set(customer_list(query=query).values_list("pk", flat=True))
    assert found == {by_key[k] for k in expected}
    assert set(customer_list(query=b.member_number).values_list("pk", flat=True)) == {b.pk}


def test_display_name_puts_chinese_family_name_first():
    assert CustomerFactory(first_name="伟", last_name="张").display_name == "张伟"
    assert CustomerFactory(first_name="Lily", last_name="Chen").display_name == "Lily Chen"
