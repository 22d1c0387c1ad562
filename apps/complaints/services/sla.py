"""SLA clocks in business time (invariant 7).

Every due time is ``apps.core.calendar.add_business_minutes`` in the policy's calendar; nothing
else does calendar arithmetic. The first-response clock runs from the ticket's creation until the
first public reply. The resolution clock runs from creation until the ticket is resolved, and
stops while the ticket waits on the customer: pausing keeps the business minutes that were left
(``resolution_left``) and clears the due time; resuming computes a new due time from then, and
adds the business minutes spent waiting to ``paused_minutes``. A breach is recorded once, by the
sweep's conditional UPDATE or at resolution, whichever comes first; it is stamped with the due
instant, the moment the target was missed.

Escalation levels fire at a percentage of a clock's target, in the calendar's opening hours
only: the next one due is kept on the ticket (``next_escalation_at``) so the sweep reads an
index, and it is recomputed whenever a clock changes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import connection

from apps.core.calendar import add_business_minutes, business_minutes_between, is_open, next_opening
from apps.loyalty.models import LoyaltyAccount

from ..enums import ACTIVE_STATUSES, Clock, EventKind, TicketStatus
from ..history import event_add, events_add_many
from ..models import Category, EscalationLevel, SLAPolicy, Ticket


def _ancestors(category_id: int) -> set[int]:
    parents = dict(Category.objects.values_list("id", "parent_id"))
    seen: set[int] = set()
    node = category_id
    while node is not None and node not in seen:
        seen.add(node)
        node = parents.get(node)
    return seen


def policy_match(*, ticket: Ticket) -> SLAPolicy | None:
    """The first active policy (by position) whose priority, category (a policy's category
    covers the categories below it) and member tier conditions all hold; empty = any."""
    categories = _ancestors(ticket.category_id)
    tier_id = (
        LoyaltyAccount.objects.filter(customer_id=ticket.customer_id)
        .values_list("tier_id", flat=True)
        .first()
    )
    policies = (
        SLAPolicy.objects.filter(active=True)
        .select_related("calendar")
        .prefetch_related("categories", "tiers", "escalations")
        .order_by("position", "id")
    )
    for policy in policies:
        if policy.priorities and ticket.priority not in policy.priorities:
            continue
        wanted = {c.pk for c in policy.categories.all()}
        if wanted and not wanted & categories:
            continue
        tiers = {t.pk for t in policy.tiers.all()}
        if tiers and tier_id not in tiers:
            continue
        return policy
    return None


def _left(policy: SLAPolicy, now: dt.datetime, due: dt.datetime) -> int:
    """Business minutes from ``now`` to ``due`` (negative once past)."""
    if due >= now:
        return business_minutes_between(policy.calendar, now, due)
    return -business_minutes_between(policy.calendar, due, now)


@dataclass(frozen=True)
class _Threshold:
    level: EscalationLevel
    at: dt.datetime


def _thresholds(ticket: Ticket, policy: SLAPolicy, now: dt.datetime) -> list[_Threshold]:
    """When each escalation level not yet reached falls due, given the clocks as they are now."""
    out = []
    done = set(ticket_escalations_done(ticket))
    for level in policy.escalations.all():
        if level.pk in done:
            continue
        if level.clock == Clock.FIRST_RESPONSE:
            if ticket.first_responded_at or not ticket.first_response_due:
                continue
            minutes = policy.first_response_minutes * level.percent // 100
            at = add_business_minutes(policy.calendar, ticket.created_at, minutes)
        else:
            if not ticket.resolution_due:
                continue  # paused or stopped
            target = policy.resolution_minutes
            left = _left(policy, now, ticket.resolution_due)
            minutes = left - target + target * level.percent // 100
            at = add_business_minutes(policy.calendar, now, minutes) if minutes > 0 else now
        out.append(_Threshold(level=level, at=at))
    return sorted(out, key=lambda t: (t.at, t.level.percent))


def ticket_escalations_done(ticket: Ticket) -> list[int]:
    return list(
        ticket.events.filter(kind=EventKind.ESCALATED).values_list("data__level_id", flat=True)
    )


def _plan_escalation(ticket: Ticket, policy: SLAPolicy | None, now: dt.datetime) -> None:
    nxt = _thresholds(ticket, policy, now) if policy and ticket.is_active else []
    ticket.next_escalation_at = nxt[0].at if nxt else None


def clocks_start(*, ticket: Ticket, now: dt.datetime, actor=None) -> None:
    """Apply the matching policy to a ticket (new, or re-prioritised/re-categorised): its targets
    count from the ticket's creation, minus the time it has waited on the customer. Saves the
    clock fields; the caller holds the ticket's lock."""
    policy = policy_match(ticket=ticket)
    old = ticket.sla_policy_id
    ticket.sla_policy = policy
    if policy is None:
        ticket.first_response_due = ticket.resolution_due = ticket.resolution_left = None
        ticket.next_escalation_at = None
    else:
        cal, start = policy.calendar, ticket.created_at
        if ticket.first_responded_at is None:
            ticket.first_response_due = add_business_minutes(
                cal, start, policy.first_response_minutes
            )
        total = policy.resolution_minutes + ticket.paused_minutes
        if ticket.status == TicketStatus.WAITING:
            elapsed = business_minutes_between(cal, start, ticket.paused_at or now)
            ticket.resolution_left = total - elapsed
            ticket.resolution_due = None
        elif ticket.is_active:
            ticket.resolution_due = add_business_minutes(cal, start, total)
        _plan_escalation(ticket, policy, now)
    ticket.save(
        update_fields=[
            "sla_policy",
            "first_response_due",
            "resolution_due",
            "resolution_left",
            "next_escalation_at",
            "updated_at",
        ]
    )
    if policy is not None and policy.pk != old:
        event_add(
            ticket=ticket,
            kind=EventKind.SLA,
            at=now,
            actor=actor,
            policy_id=policy.pk,
            first_response_due=_iso(ticket.first_response_due),
            resolution_due=_iso(ticket.resolution_due),
        )


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None


def clock_pause(*, ticket: Ticket, now: dt.datetime, actor=None) -> None:
    """Waiting on the customer: keep the business minutes left, clear the due time."""
    policy = ticket.sla_policy
    ticket.paused_at = now
    if policy is not None and ticket.resolution_due is not None:
        due = ticket.resolution_due
        ticket.resolution_left = _left(policy, now, due)
        if due < now and ticket.resolution_breached_at is None:
            ticket.resolution_breached_at = due
            event_add(ticket=ticket, kind=EventKind.BREACHED, at=now, clock=Clock.RESOLUTION)
        ticket.resolution_due = None
        event_add(
            ticket=ticket,
            kind=EventKind.CLOCK_PAUSED,
            at=now,
            actor=actor,
            minutes_left=ticket.resolution_left,
        )
    _plan_escalation(ticket, policy, now)


def clock_resume(*, ticket: Ticket, now: dt.datetime, actor=None) -> None:
    """The customer answered (or an agent took the ticket back): the clock runs again from now
    with the minutes that were left."""
    policy = ticket.sla_policy
    if ticket.paused_at is not None and policy is not None:
        waited = business_minutes_between(policy.calendar, ticket.paused_at, now)
        ticket.paused_minutes += waited
        left = ticket.resolution_left if ticket.resolution_left is not None else 0
        # Paused after the target had passed: the breach is already recorded (``clock_pause``).
        ticket.resolution_due = (
            add_business_minutes(policy.calendar, now, left) if left > 0 else now
        )
        event_add(
            ticket=ticket,
            kind=EventKind.CLOCK_RESUMED,
            at=now,
            actor=actor,
            waited_minutes=waited,
            resolution_due=_iso(ticket.resolution_due),
        )
    ticket.paused_at = None
    ticket.resolution_left = None
    _plan_escalation(ticket, policy, now)


def first_response_record(*, ticket: Ticket, now: dt.datetime, actor=None) -> None:
    """The first public reply: stop the first-response clock (a breach it missed is recorded
    now if the sweep had not yet seen it)."""
    if ticket.first_responded_at is not None:
        return
    ticket.first_responded_at = now
    policy = ticket.sla_policy
    if policy is not None:
        ticket.first_response_minutes = business_minutes_between(
            policy.calendar, ticket.created_at, now
        )
        due = ticket.first_response_due
        if due is not None and due < now and ticket.first_response_breached_at is None:
            ticket.first_response_breached_at = due
            event_add(ticket=ticket, kind=EventKind.BREACHED, at=now, clock=Clock.FIRST_RESPONSE)
    event_add(ticket=ticket, kind=EventKind.FIRST_RESPONSE, at=now, actor=actor)
    _plan_escalation(ticket, policy, now)


def resolution_record(*, ticket: Ticket, now: dt.datetime) -> None:
    """Resolved: stop the resolution clock, measure it, record a missed target once."""
    policy = ticket.sla_policy
    if ticket.paused_at is not None:
        clock_resume(ticket=ticket, now=now)
    if policy is not None:
        spent = business_minutes_between(policy.calendar, ticket.created_at, now)
        ticket.resolution_minutes = max(spent - ticket.paused_minutes, 0)
        due = ticket.resolution_due
        if due is not None and due < now and ticket.resolution_breached_at is None:
            ticket.resolution_breached_at = due
            event_add(ticket=ticket, kind=EventKind.BREACHED, at=now, clock=Clock.RESOLUTION)
    ticket.resolution_due = None
    ticket.next_escalation_at = None


def clock_restart(*, ticket: Ticket, now: dt.datetime) -> None:
    """Reopened: the resolution clock runs again with what was left at resolution (at least
    nothing: a reopened ticket past its target stays breached, once)."""
    policy = ticket.sla_policy
    if policy is None:
        return
    left = policy.resolution_minutes - (ticket.resolution_minutes or 0)
    ticket.resolution_due = add_business_minutes(policy.calendar, now, left) if left > 0 else now
    ticket.resolution_minutes = None
    _plan_escalation(ticket, policy, now)


# The sweep ------------------------------------------------------------------------------------

_ACTIVE = tuple(str(s) for s in ACTIVE_STATUSES)


def _breach(column_due: str, column_breached: str, extra: str, now: dt.datetime) -> list[int]:
    table = Ticket._meta.db_table
    placeholders = ", ".join(["%s"] * len(_ACTIVE))
    sql = (
        f"UPDATE {table} SET {column_breached} = {column_due} "  # noqa: S608 (fixed column names of this module, values bound)  # nosec B608
        f"WHERE {column_due} <= %s AND {column_breached} IS NULL {extra} "
        f"AND status IN ({placeholders}) RETURNING id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [now, *_ACTIVE])
        return [row[0] for row in cursor.fetchall()]


def breaches_sweep(*, now: dt.datetime) -> dict[str, int]:
    """Record every missed target not yet recorded: one UPDATE … RETURNING per clock and one
    insert of their history rows. Safe to run twice or concurrently (the WHERE clause)."""
    first = _breach(
        "first_response_due", "first_response_breached_at", "AND first_responded_at IS NULL", now
    )
    resolution = _breach("resolution_due", "resolution_breached_at", "", now)
    events_add_many(ticket_ids=first, kind=EventKind.BREACHED, at=now, clock=Clock.FIRST_RESPONSE)
    events_add_many(ticket_ids=resolution, kind=EventKind.BREACHED, at=now, clock=Clock.RESOLUTION)
    return {"first_response": len(first), "resolution": len(resolution)}


def escalation_due(*, ticket: Ticket, now: dt.datetime) -> list[EscalationLevel]:
    """The levels that fall due now on a locked ticket, recorded as fired; plans the next one.
    Outside the calendar's opening hours nothing fires: the ticket waits for the next opening."""
    policy = ticket.sla_policy
    if policy is None or not ticket.is_active:
        ticket.next_escalation_at = None
        return []
    if not is_open(policy.calendar, now):
        ticket.next_escalation_at = next_opening(policy.calendar, now)
        return []
    fired = [t.level for t in _thresholds(ticket, policy, now) if t.at <= now]
    for level in fired:
        ticket.escalation_level += 1
        event_add(
            ticket=ticket,
            kind=EventKind.ESCALATED,
            at=now,
            level_id=level.pk,
            level=ticket.escalation_level,
            clock=level.clock,
            percent=level.percent,
            notify=level.notify,
        )
    _plan_escalation(ticket, policy, now)
    return fired
