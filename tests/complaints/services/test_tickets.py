import pytest

from apps.accounts.roles import SUPPORT_AGENT
from apps.complaints.enums import EventKind, TicketChannel
from apps.complaints.exceptions import AlreadyAssigned, NotAllowed
from apps.complaints.models import Ticket
from apps.complaints.services.tickets import ticket_assign, ticket_open, ticket_take
from apps.core.exceptions import ValidationFailed
from tests.conftest import make_staff
from tests.customers.factories import CustomerFactory, OrderFactory

from ..conftest import at
from ..factories import CategoryFactory, TeamFactory

pytestmark = pytest.mark.django_db


def test_references_count_up_per_year(open_ticket):
    first, second = open_ticket(), open_ticket()
    nxt = open_ticket("2027-01-04 10:00")
    assert [first.reference, second.reference, nxt.reference] == [
        "C-2026-000001",
        "C-2026-000002",
        "C-2027-000001",
    ]


def test_a_new_ticket_is_routed_to_the_team_of_its_category_or_an_ancestor(open_ticket):
    parent = CategoryFactory(code="store")
    child = CategoryFactory(code="store-staff", parent=parent)
    team = TeamFactory(code="stores")
    team.categories.add(parent)
    ticket = open_ticket(category=child)
    assert ticket.team == team
    assert list(ticket.events.values_list("kind", flat=True)) == [EventKind.CREATED, EventKind.SLA]


def test_an_order_of_another_member_is_refused_and_nothing_written(customer, category, policy):
    stranger_order = OrderFactory(customer=CustomerFactory())
    with pytest.raises(ValidationFailed) as refused:
        ticket_open(
            customer=customer,
            category=category,
            subject="Wrong order",
            description="x",
            channel=TicketChannel.API,
            order=stranger_order,
        )
    assert refused.value.extra["field"] == "order"
    assert not Ticket.objects.exists()


@pytest.mark.parametrize(
    ("subject", "description", "field"),
    [
        ("", "text", "subject"),
        ("ok", "   ", "description"),
        ("x" * 201, "text", "subject"),
        ("bell\u0007", "text", "subject"),
    ],
)
def test_bad_text_is_refused_on_its_field(customer, category, policy, subject, description, field):
    with pytest.raises(ValidationFailed) as refused:
        ticket_open(
            customer=customer,
            category=category,
            subject=subject,
            description=description,
            channel=TicketChannel.PHONE,
        )
    assert refused.value.extra["field"] == field
    assert not Ticket.objects.exists()


def test_a_source_opens_one_ticket(open_ticket):
    first = open_ticket(source_ref="survey-response:7")
    again = open_ticket(source_ref="survey-response:7")
    assert first.pk == again.pk and Ticket.objects.count() == 1


def test_taking_a_taken_ticket_is_refused(open_ticket, agent):
    ticket = open_ticket()
    other = make_staff(SUPPORT_AGENT, email="bo@test.local")
    ticket_take(ticket=ticket, agent=agent, at=at("2026-09-25 10:05"))
    with pytest.raises(AlreadyAssigned):
        ticket_take(ticket=ticket, agent=other)
    ticket.refresh_from_db()
    assert ticket.assignee == agent


def test_a_marketer_cannot_work_or_assign_tickets(open_ticket, marketer, agent):
    ticket = open_ticket()
    with pytest.raises(NotAllowed):
        ticket_take(ticket=ticket, agent=marketer)
    with pytest.raises(NotAllowed):
        ticket_assign(ticket=ticket, actor=marketer, assignee=agent)
    ticket.refresh_from_db()
    assert ticket.assignee is None
