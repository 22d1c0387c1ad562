"""The complaint queue and ticket page: who sees what, actions through the services, refusals
that change nothing, and query budgets independent of the number of tickets."""

import pytest
from django.urls import reverse

from apps.accounts.roles import SUPPORT_AGENT
from apps.complaints.enums import CompensationStatus, TicketChannel, TicketStatus
from apps.complaints.models import Compensation, ComplaintSettings, Ticket, TicketMessage
from apps.complaints.services.conversation import customer_reply, staff_reply
from apps.complaints.services.tickets import ticket_open
from apps.core.models import AuditEvent
from tests.complaints.factories import CategoryFactory, SLAPolicyFactory
from tests.conftest import make_staff
from tests.customers.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def url(name, **kwargs):
    return reverse(f"dashboard:{name}", kwargs=kwargs)


@pytest.fixture
def tickets(customer):
    SLAPolicyFactory(position=1)
    category = CategoryFactory(code="delivery", name_en="Delivery", name_zh_hans="配送")

    def make(n, **kwargs):
        return [
            ticket_open(
                customer=kwargs.get("customer") or CustomerFactory(),
                category=category,
                subject=f"Parcel {i} late",
                description="Still waiting.",
                channel=TicketChannel.PHONE,
            )
            for i in range(n)
        ]

    return make


def test_agent_sees_the_queue_and_a_marketer_only_reads(client, agent, marketer, tickets):
    tickets(2)
    client.force_login(agent)
    response = client.get(url("ticket-list") + "?view=unassigned")
    assert response.status_code == 200
    assert len(response.context["page_obj"].object_list) == 2
    client.force_login(marketer)
    assert client.get(url("ticket-list")).status_code == 200
    ticket = Ticket.objects.first()
    response = client.post(url("ticket-take", reference=ticket.reference))
    assert response.status_code == 403
    ticket.refresh_from_db()
    assert ticket.assignee is None


def test_members_cannot_open_staff_pages(client, member, tickets):
    (ticket,) = tickets(1)
    client.force_login(member[0])
    assert client.get(url("ticket-detail", reference=ticket.reference)).status_code == 403


def test_unknown_reference_is_404(client, agent):
    client.force_login(agent)
    assert client.get(url("ticket-detail", reference="C-2026-999999")).status_code == 404


def test_reply_take_and_resolve_from_the_ticket_page(client, agent, tickets, mailoutbox):
    (ticket,) = tickets(1)
    client.force_login(agent)
    page = client.get(url("ticket-detail", reference=ticket.reference))
    assert page.status_code == 200 and ticket.reference in page.content.decode()
    client.post(url("ticket-take", reference=ticket.reference))
    client.post(
        url("ticket-reply", reference=ticket.reference),
        {"body": "Found it, on its way.", "then": "resolved"},
    )
    ticket.refresh_from_db()
    assert ticket.assignee == agent and ticket.status == TicketStatus.RESOLVED
    assert ticket.first_responded_at is not None


def test_internal_note_is_marked_and_not_public(client, agent, tickets):
    (ticket,) = tickets(1)
    client.force_login(agent)
    client.post(url("ticket-reply", reference=ticket.reference), {"body": "VIP", "internal": "on"})
    note = TicketMessage.objects.get()
    assert note.kind == "internal"
    page = client.get(url("ticket-detail", reference=ticket.reference)).content.decode()
    assert 'data-testid="message-internal"' in page


def test_a_refused_move_says_why_and_changes_nothing(client, agent, tickets):
    (ticket,) = tickets(1)
    client.force_login(agent)
    response = client.post(
        url("ticket-status", reference=ticket.reference), {"status": "closed"}, follow=True
    )
    assert "cannot become" in response.content.decode()
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.NEW


def test_taking_a_ticket_someone_took_is_refused(client, agent, tickets):
    (ticket,) = tickets(1)
    other = make_staff(SUPPORT_AGENT, email="bo@test.local")
    client.force_login(other)
    client.post(url("ticket-take", reference=ticket.reference))
    client.force_login(agent)
    response = client.post(url("ticket-take", reference=ticket.reference), follow=True)
    assert "Someone else has just taken this ticket." in response.content.decode()
    ticket.refresh_from_db()
    assert ticket.assignee == other


def test_compensation_above_the_limit_waits_for_a_manager(client, agent, manager, tickets):
    ComplaintSettings.objects.create(compensation_limit=10)
    (ticket,) = tickets(1)
    client.force_login(agent)
    client.post(
        url("ticket-compensate", reference=ticket.reference),
        {"kind": "coupon", "amount": "30", "reason": "Broken"},
    )
    comp = Compensation.objects.get()
    assert comp.status == CompensationStatus.PENDING
    refused = client.post(url("compensation-decide", pk=comp.pk), {"approve": "1"})
    assert refused.status_code == 403
    client.force_login(manager)
    assert client.get(url("ticket-approvals")).status_code == 200
    client.post(url("compensation-decide", pk=comp.pk), {"approve": "1", "back": "approvals"})
    comp.refresh_from_db()
    assert comp.status == CompensationStatus.ISSUED and comp.coupon is not None


def test_bulk_assign(client, manager, agent, tickets):
    made = tickets(3)
    client.force_login(manager)
    client.post(
        url("ticket-bulk-assign"),
        {"tickets": [str(t.pk) for t in made[:2]], "assignee": str(agent.pk)},
    )
    assert sorted(Ticket.objects.filter(assignee=agent).values_list("pk", flat=True)) == sorted(
        t.pk for t in made[:2]
    )


def test_filing_a_phone_complaint(client, agent, customer, tickets):
    tickets(0)
    category = CategoryFactory(code="delivery")
    client.force_login(agent)
    response = client.post(
        url("ticket-create"),
        {
            "member_number": customer.member_number,
            "category": str(category.pk),
            "channel": "phone",
            "priority": "high",
            "subject": "Rude cashier",
            "description": "At the Jing'an store.",
        },
    )
    ticket = Ticket.objects.get()
    assert response.status_code == 302 and ticket.channel == "phone"
    assert ticket.created_by == agent
    missing = client.post(
        url("ticket-create"),
        {
            "member_number": "0000000000",
            "category": str(category.pk),
            "channel": "phone",
            "priority": "normal",
            "subject": "x",
            "description": "y",
        },
    )
    assert missing.status_code == 400 and Ticket.objects.count() == 1
    assert missing.context["form"].errors["member_number"]


@pytest.mark.parametrize("view", ["open", "unassigned", "soon", "breached", "mine", "team"])
def test_queue_query_budget_independent_of_rows(client, agent, tickets, count_queries, view):
    client.force_login(agent)
    tickets(3)
    few = count_queries(client, url("ticket-list") + f"?view={view}")
    tickets(30)
    assert count_queries(client, url("ticket-list") + f"?view={view}") == few


def test_ticket_page_query_budget_independent_of_messages(client, agent, tickets, count_queries):
    (ticket,) = tickets(1)
    client.force_login(agent)
    staff_reply(ticket=ticket, author=agent, body="Hello")
    few = count_queries(client, url("ticket-detail", reference=ticket.reference))
    for i in range(10):
        customer_reply(ticket=ticket, body=f"More {i}")
        staff_reply(ticket=ticket, author=agent, body=f"Reply {i}", internal=bool(i % 2))
    assert count_queries(client, url("ticket-detail", reference=ticket.reference)) == few


def test_reports_show_every_table_and_export_them_audited(client, manager, agent, tickets):
    made = tickets(3)
    staff_reply(ticket=made[0], author=agent, body="Hello")
    client.force_login(manager)
    page = client.get(url("ticket-reports"))
    assert page.status_code == 200
    keys = [t.key for t in page.context["tables"]]
    assert keys == [
        "sla-team",
        "backlog",
        "times",
        "root-causes",
        "rate-store",
        "csat",
        "compensation",
    ]
    backlog = next(t for t in page.context["tables"] if t.key == "backlog")
    assert sum(row[1] for row in backlog.rows) == 3
    for key in keys:
        for fmt in ("csv", "xlsx"):
            response = client.get(url("ticket-report-export", table=key, fmt=fmt))
            assert response.status_code == 200, (key, fmt)
    assert AuditEvent.objects.filter(action="export.complaint_report").count() == 14
    assert client.get(url("ticket-report-export", table="nope", fmt="csv")).status_code == 404


def test_agents_cannot_read_reports(client, agent):
    client.force_login(agent)
    assert client.get(url("ticket-reports")).status_code == 403


def test_reports_query_count_independent_of_tickets(client, manager, tickets, count_queries):
    client.force_login(manager)
    tickets(3)
    few = count_queries(client, url("ticket-reports"))
    tickets(20)
    assert count_queries(client, url("ticket-reports")) == few


def test_the_360_page_lists_the_members_complaints(client, agent, customer, tickets):
    made = tickets(2, customer=customer)
    client.force_login(agent)
    page = client.get(
        reverse("dashboard:customer-detail", args=[customer.member_number]) + "?tab=tickets"
    )
    assert [t.reference for t in page.context["member_tickets"]] == [
        t.reference for t in reversed(made)
    ]
    assert made[0].reference in page.content.decode()


def test_the_queue_exports_as_filtered_in_words_and_audited(client, manager, tickets):
    made = tickets(3)
    client.force_login(manager)
    response = client.get(url("ticket-export", fmt="csv") + "?view=open&priority=normal")
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    lines = body.strip().splitlines()
    assert lines[0].startswith("Reference,Filed,Member number") and len(lines) == 4
    assert made[0].reference in body and "Delivery" in body and "Normal" in body
    event = AuditEvent.objects.get(action="export.tickets")
    assert event.after["rows"] == 3 and event.after["filters"]["priority"] == "normal"
    xlsx = client.get(url("ticket-export", fmt="xlsx"))
    assert xlsx.status_code == 200
    client.force_login(make_staff(SUPPORT_AGENT, email="x@test.local"))
    assert client.get(url("ticket-export", fmt="csv")).status_code == 403


def test_a_marketer_cannot_triage_or_bulk_assign_and_nothing_changes(
    client, marketer, agent, tickets
):
    (ticket,) = tickets(1)
    client.force_login(marketer)
    triage = client.post(
        url("ticket-triage", reference=ticket.reference),
        {"priority": "urgent", "category": str(ticket.category_id)},
    )
    bulk = client.post(
        url("ticket-bulk-assign"), {"tickets": [str(ticket.pk)], "assignee": str(agent.pk)}
    )
    assert triage.status_code == bulk.status_code == 403
    ticket.refresh_from_db()
    assert ticket.priority == "normal" and ticket.assignee is None
    assert list(ticket.events.values_list("kind", flat=True)) == ["created", "sla"]


def test_compensation_without_its_amount_is_refused_and_nothing_written(client, agent, tickets):
    (ticket,) = tickets(1)
    client.force_login(agent)
    response = client.post(
        url("ticket-compensate", reference=ticket.reference),
        {"kind": "points", "reason": "Goodwill"},
        follow=True,
    )
    assert "Give between 1 and" in response.content.decode()
    assert not Compensation.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="complaints.").exists()


def test_approvals_page_query_budget_independent_of_rows(
    client, agent, manager, tickets, count_queries
):
    ComplaintSettings.objects.create(compensation_limit=1)

    def pending(n):
        for ticket in tickets(n):
            client.force_login(agent)
            client.post(
                url("ticket-compensate", reference=ticket.reference),
                {"kind": "coupon", "amount": "30", "reason": "Broken"},
            )

    pending(2)
    client.force_login(manager)
    few = count_queries(client, url("ticket-approvals"))
    pending(10)
    client.force_login(manager)
    assert count_queries(client, url("ticket-approvals")) == few
    assert Compensation.objects.filter(status="pending").count() == 12
