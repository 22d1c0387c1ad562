"""The top bar's search as you type (issue 9, part 7): an htmx endpoint with the best matches
as links, a fixed query budget, and Enter still opening the full customer list."""

import pytest
from django.urls import reverse

from apps.customers.models import Customer
from tests.accounts.factories import UserFactory
from tests.customers.factories import CustomerFactory

pytestmark = pytest.mark.django_db

URL = "dashboard:customer-quick-search"
BUDGET = 10  # 9 for any staff request (session, user, its sessions, permissions), 1 search


def test_matches_show_name_member_number_and_phone_as_links(client, agent):
    wang = CustomerFactory(first_name="伟", last_name="王", phone="+8613812345678")
    CustomerFactory(first_name="Anna", last_name="Smith")
    client.force_login(agent)
    response = client.get(reverse(URL), {"q": "138-1234"}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    assert "王伟" in html and wang.member_number in html and "+86 138 1234 5678" in html
    assert f'href="{reverse("dashboard:customer-detail", args=[wang.member_number])}"' in html
    assert "Smith" not in html
    assert f'href="{reverse("dashboard:customer-list")}?q=138-1234"' in html


def test_an_empty_query_renders_nothing(client, agent):
    CustomerFactory()
    client.force_login(agent)
    assert client.get(reverse(URL), {"q": "  "}).content.strip() == b""


def test_no_match_says_so(client, agent):
    client.force_login(agent)
    html = client.get(reverse(URL), {"q": "zzzz"}).content.decode()
    assert "No customer matches “zzzz”." in html


def test_at_most_eight_and_a_link_to_all(client, agent):
    CustomerFactory.create_batch(12, last_name="Lee")
    client.force_login(agent)
    response = client.get(reverse(URL), {"q": "lee"})
    assert len(response.context["results"]) == 8 and response.context["more"]
    assert "All matches in the customer list" in response.content.decode()


def test_an_erased_member_shows_no_phone(client, agent):
    CustomerFactory(last_name="Gone", phone="+8613800000000")
    Customer.objects.update(anonymized_at="2026-01-01T00:00Z")
    client.force_login(agent)
    html = client.get(reverse(URL), {"q": "gone"}).content.decode()
    assert "+8613800000000" not in html


def test_staff_without_customer_access_and_members_get_403(client, member):
    nobody = UserFactory(email="plain-staff@test.local", is_staff=True)  # in no role
    client.force_login(nobody)
    assert client.get(reverse(URL), {"q": "a"}).status_code == 403
    client.force_login(member[0])
    assert client.get(reverse(URL), {"q": "a"}).status_code == 403


def test_anonymous_is_sent_to_login(client):
    assert client.get(reverse(URL), {"q": "a"}).status_code == 302


def test_budget_is_the_same_for_few_or_many_customers(
    client, agent, count_queries, django_assert_max_num_queries
):
    client.force_login(agent)
    CustomerFactory.create_batch(3, last_name="Chen")
    small = count_queries(client, reverse(URL) + "?q=chen")
    CustomerFactory.create_batch(40, last_name="Chen")
    assert count_queries(client, reverse(URL) + "?q=chen") == small
    with django_assert_max_num_queries(BUDGET):
        client.get(reverse(URL), {"q": "chen"})


def test_the_top_bar_wires_the_search(client, agent):
    client.force_login(agent)
    html = client.get(reverse("dashboard:home")).content.decode()
    assert f'hx-get="{reverse(URL)}"' in html and 'id="global-search-results"' in html
    # Enter still submits the form to the full customer list.
    assert f'action="{reverse("dashboard:customer-list")}"' in html
