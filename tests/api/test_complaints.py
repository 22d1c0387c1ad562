"""``POST /api/v1/complaints/`` and ``GET /api/v1/complaints/{reference}/`` (DESIGN §6)."""

import pytest
from django.urls import reverse

from apps.complaints.models import Ticket
from apps.complaints.services.conversation import staff_reply
from tests.complaints.factories import CategoryFactory, SLAPolicyFactory
from tests.customers.factories import CustomerFactory, OrderFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/complaints/"


@pytest.fixture
def category(db):
    SLAPolicyFactory(position=1)
    return CategoryFactory(code="delivery-late")


def _body(customer, **extra):
    return {
        "member_number": customer.member_number,
        "category": "delivery-late",
        "subject": "Order late",
        "description": "Three days late.",
        **extra,
    }


def test_a_till_files_a_complaint_and_reads_it_back(api, customer, store, category, agent):
    order = OrderFactory(customer=customer, store=store, external_id="POS-1")
    response = api.post(
        URL, _body(customer, store=store.code, order_external_id="POS-1"), format="json"
    )
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["reference"].startswith("C-") and data["status"] == "new"
    assert data["category"] == "delivery-late" and data["first_response_due"]
    ticket = Ticket.objects.get()
    assert ticket.order == order and ticket.channel == "api"
    staff_reply(ticket=ticket, author=agent, body="On its way")
    staff_reply(ticket=ticket, author=agent, body="internal only", internal=True)
    read = api.get(reverse("api:complaint-detail", args=[data["reference"]])).json()
    assert [m["body"] for m in read["messages"]] == ["On its way"]
    assert read["status"] == "open" and read["first_response_due"] is None


def test_the_same_idempotency_key_files_once(api, customer, category):
    headers = {"HTTP_IDEMPOTENCY_KEY": "till-7-0042"}
    first = api.post(URL, _body(customer), format="json", **headers)
    again = api.post(URL, _body(customer), format="json", **headers)
    assert first.status_code == again.status_code == 201
    assert first.json()["reference"] == again.json()["reference"]
    assert Ticket.objects.count() == 1


@pytest.mark.parametrize(
    ("extra", "status", "code"),
    [
        ({"category": "nope"}, 400, "validation_error"),
        ({"member_number": "0000000000"}, 404, "customer_not_found"),
        ({"order_external_id": "X"}, 400, "validation_error"),
        ({"subject": ""}, 400, "validation_error"),
        ({"priority": "whenever"}, 400, "validation_error"),
    ],
)
def test_refusals_write_nothing(api, customer, category, extra, status, code):
    response = api.post(URL, _body(customer, **extra), format="json")
    assert response.status_code == status and response.json()["code"] == code
    assert not Ticket.objects.exists()


def test_another_members_order_is_refused(api, customer, store, category):
    OrderFactory(customer=CustomerFactory(), store=store, external_id="POS-2")
    response = api.post(
        URL, _body(customer, store=store.code, order_external_id="POS-2"), format="json"
    )
    assert response.status_code == 400 and not Ticket.objects.exists()


def test_unknown_reference_is_404(api):
    response = api.get(reverse("api:complaint-detail", args=["C-2026-999999"]))
    assert response.status_code == 404 and response.json()["code"] == "ticket_not_found"


def test_without_a_key_nothing_is_filed(client, customer, category):
    response = client.post(URL, _body(customer), content_type="application/json")
    assert response.status_code in (401, 403) and not Ticket.objects.exists()
