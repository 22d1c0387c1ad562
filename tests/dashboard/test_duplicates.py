"""Staff pages for duplicates: the list, the merge page, the 360 page's hint; permissions,
refusals and query budgets."""

import datetime as dt

import pytest
from django.urls import reverse

from apps.core.models import AuditEvent
from apps.customers.models import Customer, Order
from apps.customers.services import customer_merge
from tests.customers.factories import CustomerFactory, OrderFactory, StoreFactory, TagFactory

pytestmark = pytest.mark.django_db

LIST = reverse("dashboard:duplicate-list")
LIST_BUDGET = 16
MERGE_BUDGET = 22


def merge_url(first, second) -> str:
    return reverse("dashboard:customer-merge", args=[first.member_number, second.member_number])


def _twins(n: int, start: int = 0) -> list[tuple[Customer, Customer]]:
    pairs = []
    for i in range(start, start + n):
        phone = f"+86139{i:08d}"
        pairs.append(
            (CustomerFactory(phone=phone), CustomerFactory(phone=phone, last_name=f"Twin{i}"))
        )
    return pairs


def test_duplicates_list_shows_pairs_with_reasons_and_key_facts(client, manager):
    a = CustomerFactory(first_name="Li", last_name="Na", phone="+8613900000001")
    b = CustomerFactory(first_name="Li", last_name="Na", phone="+8613900000001")
    OrderFactory(customer=b)
    client.force_login(manager)

    response = client.get(LIST)

    assert response.status_code == 200
    html = response.content.decode()
    assert "Same phone" in html
    assert a.member_number in html and b.member_number in html
    assert merge_url(a, b) in html
    assert "1 order" in html
    assert f'href="{LIST}"' in html  # the nav entry


@pytest.mark.parametrize("role", ["agent", "marketer"])
def test_duplicate_pages_need_the_merge_permission(client, request, role):
    a, b = _twins(1)[0]
    client.force_login(request.getfixturevalue(role))
    assert client.get(LIST).status_code == 403
    assert client.get(merge_url(a, b)).status_code == 403
    response = client.post(merge_url(a, b), {"survivor": b.member_number, "reason": "dup"})
    assert response.status_code == 403
    assert Customer.objects.filter(merged_into__isnull=False).count() == 0
    assert not AuditEvent.objects.filter(action="customer.merge").exists()


def test_duplicates_list_needs_login(client):
    response = client.get(LIST)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_duplicates_list_filters_by_member_and_reason(client, manager):
    (a, b), (c, d) = _twins(2)
    client.force_login(manager)

    html = client.get(LIST, {"member": a.member_number}).content.decode()
    assert a.member_number in html and b.member_number in html
    assert c.member_number not in html and d.member_number not in html
    html = client.get(LIST, {"reason": "email"}).content.decode()
    assert a.member_number not in html and d.member_number not in html
    assert client.get(LIST, {"member": "999"}).status_code == 200


def test_duplicates_list_query_budget(client, manager, count_queries):
    client.force_login(manager)
    _twins(3)
    small = count_queries(client, LIST)
    _twins(40, start=100)
    large = count_queries(client, LIST)
    assert small == large <= LIST_BUDGET


def test_merge_page_compares_and_merges_into_the_chosen_survivor(client, manager):
    store = StoreFactory(code="cmp")
    a, b = _twins(1)[0]
    OrderFactory(customer=a, store=store)
    client.force_login(manager)

    page = client.get(merge_url(a, b))
    assert page.status_code == 200
    assert "Same phone" in page.content.decode()

    response = client.post(merge_url(a, b), {"survivor": a.member_number, "reason": "Same man"})

    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard:customer-detail", args=[a.member_number])
    b.refresh_from_db()
    assert b.merged_into == a
    assert Order.objects.filter(customer=a).count() == 1
    event = AuditEvent.objects.get(action="customer.merge")
    assert event.actor == manager and event.after["reason"] == "Same man"
    followed = client.get(response["Location"])
    assert f"{b.member_number} was merged into {a.member_number}" in followed.content.decode()


def test_merge_page_query_budget(client, manager, count_queries):
    a, b = _twins(1)[0]
    client.force_login(manager)
    assert count_queries(client, merge_url(a, b)) <= MERGE_BUDGET


def test_merge_page_refuses_an_invalid_pair_and_writes_nothing(client, manager):
    a, b = _twins(1)[0]
    client.force_login(manager)

    same = client.post(merge_url(a, a), {"survivor": a.member_number, "reason": "dup"})
    assert same.status_code == 400
    assert "cannot be merged into itself" in same.content.decode()

    customer_merge(source=b, target=a, actor=manager, reason="first")
    events = AuditEvent.objects.count()
    page = client.get(merge_url(a, b))
    assert page.status_code == 200
    assert "already merged" in page.content.decode()
    again = client.post(merge_url(a, b), {"survivor": a.member_number, "reason": "again"})
    assert again.status_code == 400
    assert "already merged" in again.content.decode()
    assert AuditEvent.objects.count() == events


def test_merge_page_needs_a_reason_and_a_known_survivor(client, manager):
    a, b = _twins(1)[0]
    client.force_login(manager)
    for data in ({"survivor": a.member_number, "reason": ""}, {"survivor": "1", "reason": "x"}):
        assert client.post(merge_url(a, b), data).status_code == 400
    assert not Customer.objects.filter(merged_into__isnull=False).exists()


def test_merge_page_of_an_unknown_member_is_404(client, manager):
    a = CustomerFactory()
    client.force_login(manager)
    assert (
        client.get(reverse("dashboard:customer-merge", args=[a.member_number, "9"])).status_code
        == 404
    )


def test_old_member_numbers_360_page_redirects_to_the_survivor(client, manager, agent):
    a, b = _twins(1)[0]
    customer_merge(source=b, target=a, actor=manager, reason="dup")
    client.force_login(agent)

    response = client.get(reverse("dashboard:customer-detail", args=[b.member_number]))

    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard:customer-detail", args=[a.member_number])


def test_portal_review_customer_shows_a_possible_duplicate_hint(client, manager, agent):
    twin = CustomerFactory(email="same@example.org", phone="+8613900000009")
    review = CustomerFactory(email="same@example.org", phone="")
    review.tags.add(TagFactory(name="portal-review"))
    url = reverse("dashboard:customer-detail", args=[review.member_number])

    client.force_login(manager)
    html = client.get(url).content.decode()
    assert "Possible duplicate" in html
    # One twin: the hint leads straight to the merge page of the pair.
    assert merge_url(twin, review) in html

    client.force_login(agent)
    html = client.get(url).content.decode()
    assert "Possible duplicate" in html and merge_url(twin, review) not in html


def test_merged_customer_leaves_the_customer_list(client, manager):
    a, b = _twins(1)[0]
    b.joined_at = a.joined_at - dt.timedelta(days=1)
    b.save()
    customer_merge(source=b, target=a, actor=manager, reason="dup")
    client.force_login(manager)
    html = client.get(reverse("dashboard:customer-list")).content.decode()
    assert a.member_number in html and b.member_number not in html
