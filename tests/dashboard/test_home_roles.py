"""The staff home per role (issue 14): an agent lands on their queue and SLA clocks, a marketer on
live campaigns and segment sizes, a manager on the headline KPIs and what waits for approval, an
Administrator on the manager's page plus administration. Sections follow the highest role and
show only with the permissions their data needs; every role's page costs the same number of
queries with 1 row or 10."""

import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group, Permission
from django.urls import reverse
from django.utils import timezone

from apps.accounts import roles
from apps.analytics.services.kpi import kpi_snapshot_take
from apps.analytics.services.segments import segment_save
from apps.campaigns.enums import CampaignStatus
from apps.campaigns.models import Campaign
from apps.campaigns.services.lifecycle import campaign_start
from apps.campaigns.services.sending import broadcast_place_chunk
from apps.complaints.enums import TicketChannel
from apps.complaints.models import ComplaintSettings
from apps.complaints.services.compensation import compensation_request
from apps.complaints.services.sla import breaches_sweep
from apps.complaints.services.tickets import ticket_open, ticket_take
from apps.core.models import BusinessCalendar
from apps.loyalty.services import points_adjust
from tests.accounts.factories import UserFactory
from tests.campaigns.factories import EVERYONE, broadcast, journey, no_quiet_hours, reachable
from tests.complaints.factories import CategoryFactory, SLAPolicyFactory
from tests.conftest import make_staff
from tests.customers.factories import CustomerFactory, OrderFactory
from tests.loyalty.factories import ProgrammeFactory

pytestmark = pytest.mark.django_db

HOME = reverse("dashboard:home")
# Session, user, user sessions and permissions (about 10 on every staff page), the role, then
# each section's selectors: a fixed number whatever the rows.
AGENT_BUDGET = 13
MARKETER_BUDGET = 16
MANAGER_BUDGET = 19
SECTION_IDS = ("queue", "campaigns", "segments", "kpis", "approvals", "admin", "overview")


def shown(html: str) -> set[str]:
    return {s for s in SECTION_IDS if f'data-testid="home-{s}"' in html}


def home(client, user):
    client.force_login(user)
    response = client.get(HOME)
    assert response.status_code == 200
    return response


# --- data, through the services -------------------------------------------------------------


@pytest.fixture
def desk(db):
    """Tickets on a round-the-clock calendar (1 h to first response, 8 h to resolve), so the
    clocks read the same at any hour of the test run."""
    calendar = BusinessCalendar.objects.create(
        code="always",
        name="Always open",
        timezone="Asia/Shanghai",
        hours={d: [["00:00", "24:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")},
    )
    SLAPolicyFactory(position=1, calendar=calendar)
    category = CategoryFactory(code="delivery", name_en="Delivery", name_zh_hans="配送")

    def open_ticket(minutes_ago: int = 0, subject: str = "Parcel late", agent=None):
        ticket = ticket_open(
            customer=CustomerFactory(),
            category=category,
            subject=subject,
            description="Still waiting.",
            channel=TicketChannel.PHONE,
            at=timezone.now() - dt.timedelta(minutes=minutes_ago),
        )
        if agent is not None:
            ticket_take(ticket=ticket, agent=agent)
        return ticket

    return open_ticket


@pytest.fixture
def approvals(db, agent):
    """``make(n)``: n points adjustments and n compensations above the limits, requested by an
    agent, waiting for a manager."""
    ProgrammeFactory(adjustment_limit=500)
    ComplaintSettings.objects.create(compensation_limit=10)
    SLAPolicyFactory(position=1)
    category = CategoryFactory(code="billing", name_en="Billing", name_zh_hans="账单")

    def make(n: int):
        for i in range(n):
            customer = CustomerFactory(first_name=f"Pending{i}")
            points_adjust(customer=customer, points=900 + i, reason="Goodwill", actor=agent)
            ticket = ticket_open(
                customer=customer,
                category=category,
                subject="Charged twice",
                description="Two charges.",
                channel=TicketChannel.PHONE,
            )
            compensation_request(
                ticket=ticket, actor=agent, kind="refund", amount="30", reason="Refunded in store"
            )

    return make


def live_campaigns(marketer, n: int) -> None:
    """``n`` broadcasts sending (placed, nothing delivered yet) and one journey switched on."""
    no_quiet_hours()
    reachable(3)
    for _ in range(n):
        campaign = campaign_start(campaign=broadcast(actor=marketer), actor=marketer)
        while not broadcast_place_chunk(campaign=campaign)[1]:
            pass
    campaign_start(campaign=journey(trigger="welcome", actor=marketer), actor=marketer)


# --- the agent ---------------------------------------------------------------------------------


def test_agent_lands_on_their_queue_ordered_by_the_sla_clock(client, agent, desk):
    old = desk(minutes_ago=5 * 24 * 60, subject="Old breach", agent=agent)
    fresh_breach = desk(minutes_ago=61, subject="Breached a minute ago", agent=agent)
    breaches_sweep(now=timezone.now())
    late = desk(minutes_ago=3 * 60, subject="Late, not swept yet", agent=agent)
    soon = desk(minutes_ago=30, subject="Due soon", agent=agent)
    desk(minutes_ago=10, subject="Nobody's yet")
    desk(minutes_ago=10, subject="Nobody's either")
    other = make_staff(roles.SUPPORT_AGENT, email="other@test.local")
    desk(subject="Someone else's", agent=other)

    response = home(client, agent)

    html = response.content.decode()
    assert shown(html) == {"queue"}
    board = response.context["desk"]
    assert [t.reference for t in board.tickets] == [
        old.reference,
        late.reference,
        fresh_breach.reference,
        soon.reference,
    ]
    assert [t.clock for t in board.tickets] == ["breached", "overdue", "breached", "soon"]
    # Breaching soon as the queue's tab counts it: due within two hours, or past due unswept.
    assert (board.mine, board.mine_soon, board.mine_breached) == (4, 2, 2)
    assert (board.unassigned, board.breached, board.breached_today) == (2, 2, 1)
    assert "Someone else&#x27;s" not in html and "Someone else's" not in html
    assert 'data-clock="soon"' in html and "due in" in html
    assert f"{reverse('dashboard:ticket-list')}?view=unassigned" in html


def test_agent_with_an_empty_queue_is_pointed_at_the_unassigned_tickets(client, agent, desk):
    desk(subject="Nobody's yet")
    html = home(client, agent).content.decode()
    assert "Nothing assigned to you" in html
    assert f"{reverse('dashboard:ticket-list')}?view=unassigned" in html


def test_agent_sees_no_campaigns_kpis_or_approvals(client, agent, marketer, approvals):
    live_campaigns(marketer, 1)
    approvals(1)
    response = home(client, agent)
    html = response.content.decode()
    assert shown(html) == {"queue"}
    for key in ("live_campaigns", "segments_largest", "kpi_cards", "adjustments", "summary"):
        assert key not in response.context
    assert reverse("dashboard:kpi") not in html
    assert "Pending0" not in html


# --- the marketer ------------------------------------------------------------------------------


def test_marketer_lands_on_live_campaigns_and_segment_sizes(client, marketer):
    live_campaigns(marketer, 1)
    big = segment_save(actor=marketer, rules=EVERYONE, names={"name_en": "All members"})
    small = segment_save(
        actor=marketer,
        rules={"all": [{"field": "customer.joined_days", "op": "gte", "value": 3650}]},
        names={"name_en": "Ten years in"},
    )

    response = home(client, marketer)

    html = response.content.decode()
    assert shown(html) == {"campaigns", "segments"}
    counts = response.context["campaign_counts"]
    # Two journeys: the welcome one and the built-in points-expiring reminder.
    assert (counts.sending, counts.scheduled, counts.journeys, counts.paused) == (1, 0, 2, 0)
    rows = response.context["live_campaigns"]
    (sending, sending_progress), (welcome, _p), (reminder, _p) = rows
    assert sending.kind == "broadcast" and welcome.name == "Journey welcome"
    assert reminder.builtin and "Built-in" in html
    assert (sending_progress["placed"], sending_progress["to_send"]) == (3, 3)
    assert (sending_progress["done"], sending_progress["done_pct"]) == (0, 0)
    assert 'data-testid="campaign-sent">0 / 3<' in html
    largest = response.context["segments_largest"]
    assert largest[0].last_count >= largest[-1].last_count
    assert {big.pk, small.pk} <= {s.pk for s in largest}
    assert response.context["segments_recent"][0].pk == small.pk
    assert reverse("dashboard:segment-detail", args=[big.pk]) in html
    assert 'data-testid="queue-tickets"' not in html and "kpi_cards" not in response.context


def test_marketer_without_live_campaigns_is_offered_a_new_broadcast(client, marketer):
    # A programme that switched even the built-in reminder off.
    Campaign.objects.filter(builtin__gt="").update(status=CampaignStatus.COMPLETED)
    html = home(client, marketer).content.decode()
    assert "No campaign is live" in html and "No segment counted yet" in html
    assert reverse("dashboard:campaign-create") in html


# --- the manager and the administrator ---------------------------------------------------------


def test_manager_lands_on_kpis_and_what_waits_for_approval(client, manager, approvals, store):
    approvals(2)
    yesterday = timezone.localdate() - dt.timedelta(days=1)
    buyer = CustomerFactory()
    for days_ago in (2, 3):
        OrderFactory(
            customer=buyer,
            store=store,
            placed_at=timezone.now() - dt.timedelta(days=days_ago),
            total=Decimal("100.00"),
        )
    kpi_snapshot_take(day=yesterday)
    kpi_snapshot_take(day=yesterday - dt.timedelta(days=30))

    response = home(client, manager)

    html = response.content.decode()
    assert shown(html) == {"kpis", "approvals", "overview"}
    cards = {c["kpi"].key: c for c in response.context["kpi_cards"]}
    assert list(cards) == [
        "active_members",
        "repeat_rate",
        "retention_rate",
        "revenue",
        "nps",
        "retention_roi",
    ]
    assert cards["active_members"]["value"] == "1"
    assert cards["repeat_rate"]["value"] == "100.0%"
    assert cards["revenue"]["value"] == "¥200"
    assert response.context["kpi_day"] == yesterday
    assert html.count(f'href="{reverse("dashboard:kpi")}"') >= len(cards)
    assert response.context["adjustments_waiting"] == 2
    assert response.context["compensations_waiting"] == 2
    assert "Pending0" in html and "Pending1" in html and "¥30.00" in html
    assert reverse("dashboard:loyalty-approval-list") in html
    assert reverse("dashboard:ticket-approvals") in html
    assert 'data-testid="queue-tickets"' not in html and "live_campaigns" not in response.context
    assert reverse("admin:index") not in html


def test_manager_without_a_snapshot_is_sent_to_the_kpi_page(client, manager):
    response = home(client, manager)
    html = response.content.decode()
    assert response.context["kpi_cards"] == []
    assert "No KPI snapshot this week" in html and reverse("dashboard:kpi") in html
    assert "Nothing to approve" in html and "Nothing waits for approval" in html


def test_administrator_sees_the_managers_page_and_administration(client, approvals):
    approvals(1)
    admin = make_staff(roles.ADMINISTRATOR, email="group-admin@test.local")
    response = home(client, admin)
    html = response.content.decode()
    assert shown(html) == {"kpis", "approvals", "admin", "overview"}
    assert response.context["adjustments_waiting"] == 1
    assert reverse("dashboard:staff-user-list") in html


# --- roles and permissions ---------------------------------------------------------------------


def test_several_roles_get_the_highest_roles_home(client, desk):
    user = make_staff(roles.SUPPORT_AGENT, email="both@test.local")
    user.groups.add(Group.objects.get(name=roles.MARKETING))
    desk(subject="Mine", agent=user)
    response = home(client, user)
    assert response.context["role"] == roles.MARKETING
    assert shown(response.content.decode()) == {"campaigns", "segments"}


def test_sections_follow_permissions_not_only_the_role(client):
    """Staff in no role see only what their own permissions allow."""
    user = UserFactory(is_staff=True, email="loose@test.local")
    assert shown(home(client, user).content.decode()) == set()
    assert "Welcome to Clientele" in home(client, user).content.decode()
    user.user_permissions.add(
        Permission.objects.get(codename="view_customer", content_type__app_label="customers")
    )
    user = type(user).objects.get(pk=user.pk)  # a fresh permission cache
    assert shown(home(client, user).content.decode()) == {"overview"}


def test_a_manager_without_the_kpi_right_gets_no_kpis(client, manager):
    group = Group.objects.get(name=roles.MANAGER)
    group.permissions.remove(
        Permission.objects.get(codename="view_kpisnapshot", content_type__app_label="analytics")
    )
    manager = type(manager).objects.get(pk=manager.pk)
    response = home(client, manager)
    assert shown(response.content.decode()) == {"approvals", "overview"}
    assert "kpi_cards" not in response.context


# --- query budgets: the same with 1 row or 10 ------------------------------------------------


def test_agent_home_budget(client, agent, desk, count_queries, django_assert_max_num_queries):
    client.force_login(agent)
    desk(minutes_ago=90, agent=agent)
    desk(minutes_ago=10)
    one = count_queries(client, HOME)
    for i in range(9):
        desk(minutes_ago=i * 20, agent=agent)
        desk(minutes_ago=i * 20)
    assert count_queries(client, HOME) == one
    with django_assert_max_num_queries(AGENT_BUDGET):
        response = client.get(HOME)
    assert len(response.context["desk"].tickets) == 10


def test_marketer_home_budget(client, marketer, count_queries, django_assert_max_num_queries):
    client.force_login(marketer)
    live_campaigns(marketer, 1)
    one = count_queries(client, HOME)
    live_campaigns(marketer, 9)
    assert count_queries(client, HOME) == one
    with django_assert_max_num_queries(MARKETER_BUDGET):
        response = client.get(HOME)
    assert len(response.context["live_campaigns"]) == 8


@pytest.mark.parametrize("role", ["manager", "administrator"])
def test_manager_home_budget(
    client, request, role, approvals, count_queries, django_assert_max_num_queries
):
    client.force_login(request.getfixturevalue(role))
    kpi_snapshot_take(day=timezone.localdate() - dt.timedelta(days=1))
    approvals(1)
    one = count_queries(client, HOME)
    approvals(9)
    assert count_queries(client, HOME) == one
    with django_assert_max_num_queries(MANAGER_BUDGET):
        response = client.get(HOME)
    assert response.context["adjustments_waiting"] == 10
    assert len(response.context["adjustments"]) == 5
