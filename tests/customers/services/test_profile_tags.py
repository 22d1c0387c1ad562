import pytest

from apps.core.models import AuditEvent
from apps.customers.models import Tag
from apps.customers.services import customer_tags_set
from tests.customers.factories import CustomerFactory, TagFactory

pytestmark = pytest.mark.django_db


def _tags(customer):
    return sorted(customer.tags.values_list("name", flat=True))


def _audit():
    return list(AuditEvent.objects.order_by("id").values_list("action", "summary", "actor_id"))


def test_setting_tags_adds_the_missing_and_removes_the_extra_with_one_audit_event_each(agent):
    # Given a customer tagged VIP and Lapsed, and a Newsletter tag that exists already
    customer = CustomerFactory()
    customer.tags.add(TagFactory(name="VIP"), TagFactory(name="Lapsed"))
    TagFactory(name="Newsletter")

    # When staff set VIP (written another way), Newsletter and a brand-new Tea lover
    customer_tags_set(customer=customer, names=["vip", "Newsletter", " Tea lover "], actor=agent)

    # Then the extra tag is removed, the missing ones added, and each change audited once
    assert _tags(customer) == ["Newsletter", "Tea lover", "VIP"]
    assert _audit() == [
        ("customer.tag_add", "Newsletter", agent.pk),
        ("customer.tag_add", "Tea lover", agent.pk),
        ("customer.tag_remove", "Lapsed", agent.pk),
    ]
    assert sorted(Tag.objects.values_list("name", flat=True)) == [
        "Lapsed",
        "Newsletter",
        "Tea lover",
        "VIP",
    ]


def test_setting_the_same_tags_again_writes_nothing(agent):
    customer = CustomerFactory()
    customer.tags.add(TagFactory(name="VIP"), TagFactory(name="Lapsed"))

    customer_tags_set(customer=customer, names=["Lapsed", "VIP"], actor=agent)
    customer_tags_set(customer=customer, names=["lapsed", "vip", "VIP"], actor=agent)

    assert _tags(customer) == ["Lapsed", "VIP"]
    assert AuditEvent.objects.count() == 0
    assert Tag.objects.count() == 2


def test_setting_no_tags_removes_them_all(agent):
    customer = CustomerFactory()
    customer.tags.add(TagFactory(name="VIP"))

    customer_tags_set(customer=customer, names=[], actor=agent)

    assert _tags(customer) == []
    assert _audit() == [("customer.tag_remove", "VIP", agent.pk)]
