"""The till after a merge of duplicate members: the merged-away member number still works. It
reads as the survivor, and an order posted with it earns on the survivor."""

import pytest
from django.urls import reverse

from apps.customers.models import Order
from apps.customers.services import customer_merge
from apps.loyalty.models import LoyaltyAccount
from tests.api.conftest import order_payload
from tests.customers.factories import CustomerFactory
from tests.loyalty.factories import ProgrammeFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def merged(customer, manager):
    """The shared customer (1234567897) merged into a new survivor; returns the survivor."""
    ProgrammeFactory()
    survivor = CustomerFactory(member_number="5555555555", email="", phone="+8613700000000")
    customer_merge(source=customer, target=survivor, actor=manager, reason="Same person")
    return survivor


def test_old_member_number_reads_as_the_survivor(api, merged):
    response = api.get(reverse("api:customer-detail", args=["1234567897"]))

    assert response.status_code == 200
    assert response.json()["member_number"] == "5555555555"
    assert response["Content-Location"].endswith(
        reverse("api:customer-detail", args=["5555555555"])
    )
    # Filled from the merged-away record, where the survivor had none.
    assert response.json()["email"] == "wei.zhang@example.org"


def test_survivors_own_number_has_no_content_location(api, merged):
    response = api.get(reverse("api:customer-detail", args=["5555555555"]))
    assert response.status_code == 200 and "Content-Location" not in response


def test_old_member_number_lookup_and_points_lead_to_the_survivor(api, merged):
    found = api.get(reverse("api:customer-list"), {"member_number": "1234567897"}).json()
    assert [c["member_number"] for c in found["results"]] == ["5555555555"]
    everyone = api.get(reverse("api:customer-list")).json()
    assert "1234567897" not in [c["member_number"] for c in everyone["results"]]
    points = api.get(reverse("api:customer-points", args=["1234567897"]))
    assert points.status_code == 200


def test_an_order_with_the_old_member_number_earns_on_the_survivor(api, merged):
    body = order_payload()
    response = api.post(reverse("api:order-create"), body, format="json")

    assert response.status_code == 201
    assert response.json()["points_earned"] == 250
    assert response.json()["balance"] == 250
    assert Order.objects.get(external_id="POS-1").customer == merged
    assert LoyaltyAccount.objects.get(customer=merged).balance == 250
    # The same order again (with the old number) is the same order, not a conflict.
    again = api.post(reverse("api:order-create"), body, format="json")
    assert again.status_code == 200 and again.json()["points_earned"] == 250


def test_patch_with_the_old_member_number_changes_the_survivor(api, merged):
    response = api.patch(
        reverse("api:customer-detail", args=["1234567897"]), {"city": "Suzhou"}, format="json"
    )
    assert response.status_code == 200
    merged.refresh_from_db()
    assert merged.city == "Suzhou"
