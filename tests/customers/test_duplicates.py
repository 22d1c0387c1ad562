"""The duplicates selector: each reason finds its pair, unrelated customers are not paired,
merged-away and anonymised customers are left out, a placeholder value pairs nobody."""

import datetime as dt

import pytest
from django.core.paginator import Paginator

from apps.customers.duplicates import (
    GROUP_CAP,
    DuplicateCandidates,
    duplicate_candidates,
    merge_suggestion,
)
from apps.customers.services import customer_erase, customer_merge
from tests.customers.factories import CustomerFactory, OrderFactory, TagFactory

pytestmark = pytest.mark.django_db


def _pairs(**filters) -> dict[frozenset, list[str]]:
    found = duplicate_candidates(**filters)
    return {frozenset((p.first.pk, p.second.pk)): p.reasons for p in found[0 : found.count()]}


def key(a, b) -> frozenset:
    return frozenset((a.pk, b.pk))


def test_each_reason_finds_its_pair_and_nothing_else():
    phone_a = CustomerFactory(phone="+8613900000001")
    phone_b = CustomerFactory(phone="+8613900000001")
    mail_a = CustomerFactory(email="Same.Person@Example.org")
    mail_b = CustomerFactory(email="same.person@example.org")
    born = dt.date(1988, 3, 14)
    name_a = CustomerFactory(first_name="Wei", last_name="Zhang", birth_date=born)
    name_b = CustomerFactory(first_name="zhang", last_name=" Wei", birth_date=born)  # swapped
    other_birth = CustomerFactory(
        first_name="Wei", last_name="Zhang", birth_date=dt.date(1990, 1, 1)
    )
    CustomerFactory.create_batch(5)  # unrelated: own phones, e-mails, names

    pairs = _pairs()

    assert pairs == {
        key(phone_a, phone_b): ["phone"],
        key(mail_a, mail_b): ["email"],
        key(name_a, name_b): ["name_birth"],
    }
    assert key(name_a, other_birth) not in pairs


def test_several_reasons_and_the_portal_review_tag_add_up_and_come_first():
    a = CustomerFactory(phone="+8613900000002", email="twin@example.org")
    b = CustomerFactory(phone="+8613900000002", email="twin@example.org")
    b.tags.add(TagFactory(name="portal-review"))
    c = CustomerFactory(phone="+8613900000003")
    d = CustomerFactory(phone="+8613900000003")

    found = duplicate_candidates()
    page = found[0:10]

    assert [set(p.reasons) for p in page] == [{"phone", "email", "review"}, {"phone"}]
    assert {page[0].first, page[0].second} == {a, b}
    assert {page[1].first, page[1].second} == {c, d}
    assert found.count() == 2
    assert page[0].reason_labels == ["Same phone", "Same e-mail", "Portal review"]


def test_filters_by_reason_and_by_customer():
    a = CustomerFactory(phone="+8613900000004")
    b = CustomerFactory(phone="+8613900000004")
    c = CustomerFactory(email="x@example.org")
    d = CustomerFactory(email="x@example.org")
    assert set(_pairs(reason="email")) == {key(c, d)}
    assert set(_pairs(customer=a)) == {key(a, b)}
    assert _pairs(customer=CustomerFactory()) == {}


def test_merged_and_anonymised_customers_are_left_out(manager):
    a = CustomerFactory(phone="+8613900000005")
    b = CustomerFactory(phone="+8613900000005")
    c = CustomerFactory(phone="+8613900000005")
    customer_merge(source=b, target=a, actor=manager, reason="dup")
    assert set(_pairs()) == {key(a, c)}
    customer_erase(customer=c, actor=manager)
    assert _pairs() == {}


def test_a_value_shared_by_more_than_the_cap_pairs_nobody():
    CustomerFactory.create_batch(GROUP_CAP + 1, email="none@none.com")
    a = CustomerFactory(email="real@example.org")
    b = CustomerFactory(email="real@example.org")
    assert set(_pairs()) == {key(a, b)}


def test_pairs_paginate():
    for i in range(7):
        CustomerFactory(phone=f"+86139100000{i:02d}")
        CustomerFactory(phone=f"+86139100000{i:02d}")
    paginator = Paginator(duplicate_candidates(), 3)
    assert paginator.count == 7 and paginator.num_pages == 3
    seen = [frozenset((p.first.pk, p.second.pk)) for n in (1, 2, 3) for p in paginator.page(n)]
    assert len(seen) == len(set(seen)) == 7


@pytest.mark.parametrize("kept", [1000, 4, 1])
def test_a_page_is_found_with_one_pass_over_the_customers(
    kept, monkeypatch, django_assert_num_queries
):
    # The count keeps the first pairs: a page among them needs no second pass; pages after
    # them, and a count that kept fewer than a page, read their own, in the same order.
    monkeypatch.setattr(DuplicateCandidates, "ROWS_KEPT", kept)
    for i in range(7):
        CustomerFactory(phone=f"+86139100000{i:02d}")
        CustomerFactory(phone=f"+86139100000{i:02d}")
    paginator = Paginator(duplicate_candidates(), 3)
    with django_assert_num_queries(1 + (kept < 3) + 2):  # the pairs; their customers, orders
        first = list(paginator.page(1))
    pages = [first, *(list(paginator.page(n)) for n in (2, 3))]
    everything = duplicate_candidates()[0:7]
    assert [(p.first.pk, p.second.pk) for page in pages for p in page] == [
        (p.first.pk, p.second.pk) for p in everything
    ]


def test_suggested_survivor_has_the_login_then_more_orders(member):
    _user, with_login = member
    plain = CustomerFactory()
    assert merge_suggestion(plain, with_login) == (plain, with_login)
    assert merge_suggestion(with_login, plain) == (plain, with_login)
    busy = CustomerFactory()
    OrderFactory(customer=busy)
    assert merge_suggestion(busy, plain) == (plain, busy)
