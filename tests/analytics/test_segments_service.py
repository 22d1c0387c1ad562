"""Segment writes (save, freeze, delete) and segments as a limit on earn rules."""

import pytest

from apps.analytics.exceptions import InvalidRules
from apps.analytics.models import Segment, SegmentSnapshot, SnapshotMember
from apps.analytics.privacy import erase, export_metrics
from apps.analytics.services.segments import segment_delete, segment_freeze, segment_save
from apps.core.exceptions import Conflict, ValidationFailed
from apps.core.models import AuditEvent
from tests.customers.factories import CustomerFactory, TagFactory
from tests.loyalty.conftest import buy, programme  # noqa: F401 (fixtures)
from tests.loyalty.factories import EarnRuleFactory

pytestmark = pytest.mark.django_db

VIP = {"field": "customer.tags", "op": "has", "value": "vip"}


def vip_customers(n: int) -> list:
    tag = TagFactory(name="vip")
    people = CustomerFactory.create_batch(n)
    for person in people:
        person.tags.add(tag)
    return people


def test_saving_checks_the_rules_counts_and_audits(marketer):
    vip_customers(3)
    CustomerFactory()

    segment = segment_save(
        actor=marketer, rules=VIP, names={"name_en": "VIP", "name_zh_hans": "贵宾"}
    )

    assert segment.last_count == 3 and segment.created_by == marketer
    assert (segment.name_en, segment.name_zh_hans) == ("VIP", "贵宾")
    event = AuditEvent.objects.get(action="segment.create")
    assert event.after["rules"] == VIP


def test_refused_rules_write_nothing(marketer):
    with pytest.raises(InvalidRules, match="unknown field"):
        segment_save(
            actor=marketer,
            rules={"field": "customer.password", "op": "eq", "value": "x"},
            names={"name_en": "Bad"},
        )

    assert not Segment.objects.exists() and not AuditEvent.objects.exists()


def test_a_segment_needs_a_name(marketer):
    with pytest.raises(ValidationFailed):
        segment_save(actor=marketer, rules=VIP, names={"name_en": " ", "name_zh_hans": ""})

    assert not Segment.objects.exists()


def test_freezing_copies_who_matches_now_and_keeps_it(marketer):
    people = vip_customers(4)
    segment = segment_save(actor=marketer, rules=VIP, names={"name_en": "VIP"})

    snapshot = segment_freeze(segment=segment, actor=marketer, note="December mailing")
    people[0].tags.clear()  # later changes do not touch the frozen list

    assert snapshot.size == 4
    assert set(snapshot.members.values_list("customer_id", flat=True)) == {p.pk for p in people}
    assert AuditEvent.objects.filter(action="segment.freeze").count() == 1


def test_a_segment_with_snapshots_cannot_be_deleted(marketer):
    vip_customers(1)
    segment = segment_save(actor=marketer, rules=VIP, names={"name_en": "VIP"})
    segment_freeze(segment=segment, actor=marketer)

    with pytest.raises(Conflict):
        segment_delete(segment=segment, actor=marketer)

    assert Segment.objects.filter(pk=segment.pk).exists()
    assert SegmentSnapshot.objects.count() == 1


def test_deleting_an_unused_segment_audits(marketer):
    segment = segment_save(actor=marketer, rules=VIP, names={"name_en": "VIP"})

    segment_delete(segment=segment, actor=marketer)

    assert not Segment.objects.exists()
    assert AuditEvent.objects.filter(action="segment.delete").count() == 1


def test_an_earn_rule_limited_to_a_segment_pays_its_members_only(programme, buy, marketer):  # noqa: F811
    member, other = vip_customers(1)[0], CustomerFactory()
    segment = segment_save(actor=marketer, rules=VIP, names={"name_en": "VIP"})
    EarnRuleFactory(kind="min_spend", min_spend=50, bonus_points=70, segment=segment)

    assert buy(member, "100", days_ago=30)[2].points_earned == 170
    assert buy(other, "100", days_ago=30)[2].points_earned == 100


def test_erasure_takes_the_member_out_of_frozen_lists(marketer):
    person = vip_customers(2)[0]
    segment = segment_save(actor=marketer, rules=VIP, names={"name_en": "VIP"})
    segment_freeze(segment=segment, actor=marketer)

    erase(customer=person)

    assert not SnapshotMember.objects.filter(customer=person).exists()
    assert SnapshotMember.objects.count() == 1
    assert export_metrics(customer=person) == []
