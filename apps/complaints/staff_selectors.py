"""Reads for the staff queue and ticket page: scoped querysets with their joins, tab counts in
one aggregate, and the customer context beside a ticket."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Case, Count, F, Q, QuerySet, Value, When, Window
from django.db.models.functions import Coalesce, Least
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.accounts.models import User
from apps.core.calendar import business_minutes_between
from apps.customers.models import Order
from apps.surveys.models import Response

from .enums import (
    ACTIVE_STATUSES,
    DONE_STATUSES,
    Clock,
    CompensationStatus,
    EventKind,
    MessageKind,
    Priority,
    TicketChannel,
    TicketStatus,
)
from .exceptions import TicketNotFound
from .models import Compensation, SavedReply, SLAPolicy, Team, Ticket

SOON = dt.timedelta(hours=2)

VIEWS = ("mine", "team", "unassigned", "soon", "breached", "waiting", "open", "done", "all")
SORTS = {
    "due": ("next_due", "created_at"),
    "-created": ("-created_at", "-id"),
    "created": ("created_at", "id"),
    "priority": ("-priority_rank", "next_due"),
    "updated": ("-updated_at", "-id"),
}


def _with_due(qs: QuerySet[Ticket]) -> QuerySet[Ticket]:
    """``next_due``: the earlier of the running clocks (first response until answered)."""
    first = Case(
        When(first_responded_at__isnull=True, then=F("first_response_due")), default=Value(None)
    )
    # Coalesce each side with the other: SQLite's MIN(a, b) is NULL when either is.
    return qs.annotate(
        next_due=Least(Coalesce(first, F("resolution_due")), Coalesce(F("resolution_due"), first)),
        priority_rank=Case(
            When(priority="urgent", then=Value(3)),
            When(priority="high", then=Value(2)),
            When(priority="normal", then=Value(1)),
            default=Value(0),
        ),
    )


def _breached() -> Q:
    return Q(first_response_breached_at__isnull=False, first_responded_at__isnull=True) | Q(
        resolution_breached_at__isnull=False
    )


def _soon(now: dt.datetime) -> Q:
    horizon = now + SOON
    return (
        Q(first_responded_at__isnull=True, first_response_due__lte=horizon)
        | Q(resolution_due__lte=horizon)
    ) & ~_breached()


def view_filter(view: str, *, user: User, now: dt.datetime) -> Q:
    active = Q(status__in=ACTIVE_STATUSES)
    return {
        "mine": active & Q(assignee=user),
        "team": active & Q(team__members=user),
        "unassigned": active & Q(assignee__isnull=True),
        "soon": active & _soon(now),
        "breached": active & _breached(),
        "waiting": Q(status=TicketStatus.WAITING),
        "open": active,
        "done": Q(status__in=DONE_STATUSES),
        "all": Q(),
    }[view]


def view_counts(*, user: User, now: dt.datetime) -> dict[str, int]:
    """Every tab's count in one query."""
    aggregates = {
        view: Count("pk", filter=view_filter(view, user=user, now=now))
        for view in VIEWS
        if view not in ("all", "done", "team")
    }
    counts = Ticket.objects.aggregate(**aggregates)
    counts["team"] = (
        Ticket.objects.filter(view_filter("team", user=user, now=now)).distinct().count()
    )
    return counts


@dataclass(frozen=True)
class QueueFilters:
    view: str = "open"
    status: str = ""
    priority: str = ""
    category: int | None = None
    team: int | None = None
    assignee: int | None = None
    channel: str = ""
    q: str = ""
    sort: str = "due"


def ticket_queue(*, user: User, filters: QueueFilters, now: dt.datetime) -> QuerySet[Ticket]:
    qs = Ticket.objects.filter(view_filter(filters.view, user=user, now=now))
    if filters.status:
        qs = qs.filter(status=filters.status)
    if filters.priority:
        qs = qs.filter(priority=filters.priority)
    if filters.category:
        qs = qs.filter(Q(category_id=filters.category) | Q(category__parent_id=filters.category))
    if filters.team:
        qs = qs.filter(team_id=filters.team)
    if filters.assignee:
        qs = qs.filter(assignee_id=filters.assignee)
    if filters.channel:
        qs = qs.filter(channel=filters.channel)
    if term := filters.q.strip():
        qs = qs.filter(
            Q(reference__iexact=term) | Q(customer__member_number=term) | Q(subject__icontains=term)
        )
    if filters.view == "team":
        qs = qs.distinct()
    order = SORTS.get(filters.sort, SORTS["due"])
    return (
        _with_due(qs)
        .select_related("customer", "category", "assignee", "team")
        .order_by(*[_nulls_last(name) for name in order])
    )


def _nulls_last(name: str):
    if name.startswith("-"):
        return F(name[1:]).desc(nulls_last=True)
    return F(name).asc(nulls_last=True)


def ticket_get_for_staff(*, reference: str) -> Ticket:
    ticket = (
        _with_due(Ticket.objects.filter(reference=reference.upper()))
        .select_related(
            "customer__loyalty_account__tier",
            "category__parent",
            "assignee",
            "team",
            "sla_policy__calendar",
            "order__store",
        )
        .first()
    )
    if ticket is None:
        raise TicketNotFound()
    return ticket


def conversation(*, ticket: Ticket):
    """Replies and internal notes, oldest first, with their authors and attachments."""
    return (
        ticket.messages.select_related("author")
        .prefetch_related("attachments")
        .order_by("at", "id")
    )


def history(*, ticket: Ticket):
    return ticket.events.select_related("actor").order_by("at", "id")


def customer_context(*, ticket: Ticket) -> dict:
    """Beside the ticket: recent orders, earlier tickets (a bounded number of queries)."""
    customer = ticket.customer
    return {
        "orders": list(
            Order.objects.filter(customer=customer)
            .select_related("store")
            .order_by("-placed_at")[:5]
        ),
        "tickets": list(
            Ticket.objects.filter(customer=customer)
            .exclude(pk=ticket.pk)
            .select_related("category")
            .order_by("-created_at")[:5]
        ),
    }


def saved_replies():
    return SavedReply.objects.filter(active=True).order_by("title")


def public_count(ticket: Ticket) -> int:
    return ticket.messages.filter(kind=MessageKind.PUBLIC).count()


def agents() -> QuerySet[User]:
    """Active staff who may work tickets (through a role or directly)."""
    perm = Q(groups__permissions__codename="work_ticket") | Q(
        user_permissions__codename="work_ticket"
    )
    return (
        User.objects.filter(Q(is_active=True, is_staff=True) & (perm | Q(is_superuser=True)))
        .distinct()
        .order_by("full_name", "email")
    )


def teams() -> QuerySet[Team]:
    return Team.objects.order_by("name")


@dataclass(frozen=True)
class ClockView:
    name: str
    target: int | None
    due: dt.datetime | None
    done_at: dt.datetime | None
    breached_at: dt.datetime | None
    state: str  # "met", "breached", "paused", "running", "none"
    left: int | None  # business minutes left (negative: past due)


def ticket_clocks(*, ticket: Ticket, now: dt.datetime) -> list[ClockView]:
    """The two SLA clocks as a person reads them: met, breached, paused or running, with the
    business minutes left counted in the policy's calendar."""
    policy = ticket.sla_policy
    if policy is None:
        return []

    def left(due):
        if due is None:
            return None
        if due >= now:
            return business_minutes_between(policy.calendar, now, due)
        return -business_minutes_between(policy.calendar, due, now)

    first_state = (
        "met"
        if ticket.first_responded_at and not ticket.first_response_breached_at
        else "breached"
        if ticket.first_response_breached_at
        else "running"
    )
    if ticket.resolution_breached_at:
        res_state = "breached"
    elif ticket.status in DONE_STATUSES:
        res_state = "met"
    elif ticket.status == TicketStatus.WAITING:
        res_state = "paused"
    else:
        res_state = "running"
    return [
        ClockView(
            name="first_response",
            target=policy.first_response_minutes,
            due=ticket.first_response_due,
            done_at=ticket.first_responded_at,
            breached_at=ticket.first_response_breached_at,
            state=first_state,
            left=None if ticket.first_responded_at else left(ticket.first_response_due),
        ),
        ClockView(
            name="resolution",
            target=policy.resolution_minutes,
            due=ticket.resolution_due,
            done_at=ticket.resolved_at,
            breached_at=ticket.resolution_breached_at,
            state=res_state,
            left=ticket.resolution_left
            if res_state == "paused"
            else None
            if ticket.status in DONE_STATUSES
            else left(ticket.resolution_due),
        ),
    ]


def last_nps(*, customer_id: int):
    return (
        Response.objects.filter(customer_id=customer_id, nps_score__isnull=False)
        .select_related("survey")
        .order_by("-submitted_at")
        .first()
    )


def compensations(*, ticket: Ticket):
    return ticket.compensations.select_related("requested_by", "decided_by", "coupon").order_by(
        "-requested_at"
    )


def pending_compensations():
    return (
        Compensation.objects.filter(status=CompensationStatus.PENDING)
        .select_related("ticket__customer", "requested_by")
        .order_by("requested_at")
    )


def history_described(*, ticket: Ticket) -> list:
    """The ticket's events, each with ``text``: what happened in the reader's language (labels,
    names, levels; never raw codes). Two queries whatever the number of events."""
    events = list(history(ticket=ticket))
    user_ids = {
        e.data.get(key) for e in events for key in ("to", "from") if e.kind == EventKind.ASSIGNED
    }
    names = {u.pk: u.get_full_name() for u in User.objects.filter(pk__in=user_ids - {None})}
    kinds = {e.kind for e in events}
    teams_by_id = {t.pk: str(t.name) for t in Team.objects.all()} if EventKind.TEAM in kinds else {}
    policies = (
        {p.pk: str(p.name) for p in SLAPolicy.objects.all()} if EventKind.SLA in kinds else {}
    )
    for e in events:
        e.text = _describe(e, names, teams_by_id, policies)
    return events


def _label(choices, value) -> str:
    try:
        return str(choices(value).label)
    except ValueError:
        return str(value or "—")


def _describe(e, names: dict, teams_by_id: dict, policies: dict) -> str:
    d, kind = e.data, e.get_kind_display()
    if e.kind == EventKind.STATUS:
        return (
            f"{kind}: {_label(TicketStatus, d.get('from'))} → {_label(TicketStatus, d.get('to'))}"
        )
    if e.kind == EventKind.PRIORITY:
        return f"{kind}: {_label(Priority, d.get('from'))} → {_label(Priority, d.get('to'))}"
    if e.kind == EventKind.ASSIGNED:
        nobody = _("nobody")
        return f"{kind}: {names.get(d.get('to'), nobody)}"
    if e.kind == EventKind.TEAM:
        return f"{kind}: {teams_by_id.get(d.get('to'), '—')}"
    if e.kind in (EventKind.BREACHED,):
        return f"{kind}: {_label(Clock, d.get('clock'))}"
    if e.kind == EventKind.ESCALATED:
        return _("Escalated to level %(n)s (%(percent)s%% of the %(clock)s target)") % {
            "n": d.get("level"),
            "percent": d.get("percent"),
            "clock": _label(Clock, d.get("clock")).lower(),
        }
    if e.kind == EventKind.SLA and d.get("policy_id") in policies:
        return f"{kind}: {policies[d['policy_id']]}"
    if e.kind == EventKind.RATED:
        return f"{kind}: {d.get('score')}/5"
    if e.kind == EventKind.COMPENSATION:
        return f"{kind}: ¥{d.get('value')} · {_label(CompensationStatus, d.get('status'))}"
    if e.kind == EventKind.CREATED:
        return f"{kind}: {_label(TicketChannel, d.get('channel'))}"
    return str(kind)


# --- the agent's home: their queue against the SLA clocks ----------------------------------------


@dataclass
class AgentDesk:
    """What a support agent lands on: their open tickets, next due first (each with ``clock``:
    ``breached``, ``paused``, ``overdue``, ``soon``, ``running`` or ``none``), and the counts
    beside them."""

    tickets: list[Ticket]
    mine: int
    mine_soon: int
    mine_breached: int
    unassigned: int
    breached: int
    breached_today: int


def _clock_state(ticket: Ticket, now: dt.datetime) -> str:
    """The ticket's clock as the queue's "Due" column reads it (``_due.html``), plus "soon"."""
    if ticket.resolution_breached_at or (
        ticket.first_response_breached_at and not ticket.first_responded_at
    ):
        return "breached"
    if ticket.status == TicketStatus.WAITING:
        return "paused"
    if ticket.next_due is None:
        return "none"
    if ticket.next_due < now:
        return "overdue"
    return "soon" if ticket.next_due <= now + SOON else "running"


def agent_desk(*, user: User, now: dt.datetime, limit: int = 10) -> AgentDesk:
    """The agent's first ``limit`` open tickets (the queue's "Mine" tab, due first) and the
    counts in one aggregate: two queries whatever the number of tickets. "Breached today"
    counts the tickets whose first-response or resolution clock broke since local midnight."""
    tickets = list(ticket_queue(user=user, filters=QueueFilters(view="mine"), now=now)[:limit])
    for ticket in tickets:
        ticket.clock = _clock_state(ticket, now)
    midnight = dt.datetime.combine(
        timezone.localdate(now), dt.time.min, tzinfo=timezone.get_current_timezone()
    )
    mine = view_filter("mine", user=user, now=now)
    counts = Ticket.objects.aggregate(
        mine=Count("pk", filter=mine),
        mine_soon=Count("pk", filter=mine & _soon(now)),
        mine_breached=Count("pk", filter=mine & _breached()),
        unassigned=Count("pk", filter=view_filter("unassigned", user=user, now=now)),
        breached=Count("pk", filter=view_filter("breached", user=user, now=now)),
        breached_today=Count(
            "pk",
            filter=Q(first_response_breached_at__gte=midnight)
            | Q(resolution_breached_at__gte=midnight),
        ),
    )
    return AgentDesk(tickets=tickets, **counts)


def compensations_pending_oldest(*, limit: int = 5) -> tuple[list[Compensation], int]:
    """The ``limit`` compensations waiting longest for a manager, and how many wait in all (one
    query: the total rides along as a window count)."""
    rows = list(
        pending_compensations()
        .annotate(waiting=Window(Count("pk")))
        .order_by("requested_at", "pk")[:limit]
    )
    return rows, rows[0].waiting if rows else 0
