"""Opening tickets and who works them: references, routing, clocks, assignment, triage."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.accounts.models import User
from apps.core import events
from apps.core.exceptions import ValidationFailed
from apps.core.text import text_check
from apps.core.uploads import CleanUpload
from apps.customers.models import Customer, Order

from ..enums import PRIORITY_RANK, EventKind, Priority, TicketChannel, TicketStatus
from ..exceptions import AlreadyAssigned, NotAllowed
from ..history import event_add
from ..locks import lock_ticket
from ..models import Category, Team, Ticket, TicketSequence
from .attachments import attachments_add
from .sla import clocks_start

SUBJECT_MAX = 200
DESCRIPTION_MAX = 5000


def reference_next(*, year: int) -> str:
    """``C-<year>-<6 digits>``, gap-free per year: the year's counter row is locked until the
    ticket's transaction ends."""
    TicketSequence.objects.bulk_create([TicketSequence(year=year)], ignore_conflicts=True)
    TicketSequence.objects.filter(year=year).update(last=F("last") + 1)
    number = TicketSequence.objects.filter(year=year).values_list("last", flat=True).get()
    return f"C-{year}-{number:06d}"


def team_for(*, category: Category) -> Team | None:
    """The team that routes the category or its nearest ancestor."""
    node: Category | None = category
    seen = set()
    while node is not None and node.pk not in seen:
        seen.add(node.pk)
        team = Team.objects.filter(categories=node).order_by("pk").first()
        if team is not None:
            return team
        node = node.parent
    return None


def _check_text(*, subject: str, description: str) -> tuple[str, str]:
    subject, description = subject.strip(), description.strip()
    if not subject:
        raise ValidationFailed(_("A complaint needs a subject."), field="subject")
    if not description:
        raise ValidationFailed(_("Please describe what happened."), field="description")
    if len(subject) > SUBJECT_MAX:
        raise ValidationFailed(
            _("The subject is longer than %(n)s characters.") % {"n": SUBJECT_MAX},
            field="subject",
        )
    if len(description) > DESCRIPTION_MAX:
        raise ValidationFailed(
            _("The description is longer than %(n)s characters.") % {"n": DESCRIPTION_MAX},
            field="description",
        )
    text_check(subject=subject, description=description, multiline=["description"])
    return subject, description


@transaction.atomic
def ticket_open(
    *,
    customer: Customer,
    category: Category,
    subject: str,
    description: str,
    channel: str,
    priority: str = Priority.NORMAL,
    order: Order | None = None,
    actor: User | None = None,
    source_ref: str | None = None,
    files: Sequence[CleanUpload] = (),
    at: dt.datetime | None = None,
) -> Ticket:
    """A new ticket with its reference, team, SLA policy and due times. With ``source_ref`` (a
    job's reason, e.g. a survey response) it is opened once: the second call returns the first
    ticket. ``files`` are checked uploads (``apps.core.uploads``)."""
    if source_ref and (done := Ticket.objects.filter(source_ref=source_ref).first()):
        return done
    if channel not in TicketChannel.values:
        raise ValidationFailed(_("Unknown channel."), field="channel")
    if priority not in Priority.values:
        raise ValidationFailed(_("Unknown priority."), field="priority")
    if not category.active:
        raise ValidationFailed(_("This category is no longer in use."), field="category")
    if customer.anonymized_at is not None or customer.merged_into_id is not None:
        raise ValidationFailed(_("This member's record is closed."), field="customer")
    if order is not None and order.customer_id != customer.pk:
        raise ValidationFailed(_("That order is not this member's."), field="order")
    subject, description = _check_text(subject=subject, description=description)
    now = at or timezone.now()
    try:
        with transaction.atomic():
            ticket = Ticket.objects.create(
                reference=reference_next(year=timezone.localtime(now).year),
                customer=customer,
                order=order,
                channel=channel,
                category=category,
                priority=priority,
                subject=subject,
                description=description,
                team=team_for(category=category),
                source_ref=source_ref or None,
                created_by=actor if getattr(actor, "pk", None) else None,
                created_at=now,
            )
    except IntegrityError:
        if source_ref and (done := Ticket.objects.filter(source_ref=source_ref).first()):
            return done
        raise
    event_add(ticket=ticket, kind=EventKind.CREATED, at=now, actor=actor, channel=channel)
    attachments_add(ticket=ticket, files=list(files), at=now)
    clocks_start(ticket=ticket, now=now, actor=actor)
    events.publish("ticket.opened", ticket_id=ticket.pk, customer_id=ticket.customer_id)
    return ticket


def _can_work(user: User) -> bool:
    return user.has_perm("complaints.work_ticket")


@transaction.atomic
def ticket_take(*, ticket: Ticket, agent: User, at: dt.datetime | None = None) -> Ticket:
    """An agent takes an unassigned ticket. Two agents at once: one wins, the other gets
    ``AlreadyAssigned`` (a conditional UPDATE, not a read-then-write)."""
    if not _can_work(agent):
        raise NotAllowed()
    now = at or timezone.now()
    taken = Ticket.objects.filter(pk=ticket.pk, assignee__isnull=True).update(
        assignee=agent, updated_at=now
    )
    if not taken:
        current = Ticket.objects.filter(pk=ticket.pk).values_list("assignee_id", flat=True).first()
        if current == agent.pk:
            return ticket
        raise AlreadyAssigned()
    ticket.assignee = agent
    event_add(ticket=ticket, kind=EventKind.ASSIGNED, at=now, actor=agent, to=agent.pk, by="take")
    return ticket


@transaction.atomic
def ticket_assign(
    *,
    ticket: Ticket,
    actor: User,
    assignee: User | None,
    team: Team | None = None,
    at: dt.datetime | None = None,
) -> Ticket:
    """Give a ticket to someone (or nobody) and optionally to a team; needs ``assign_ticket``
    unless an agent assigns an unassigned ticket to themselves."""
    now = at or timezone.now()
    locked = lock_ticket(ticket_id=ticket.pk)
    self_take = assignee is not None and assignee.pk == actor.pk and locked.assignee_id is None
    if not (actor.has_perm("complaints.assign_ticket") or (self_take and _can_work(actor))):
        raise NotAllowed()
    if assignee is not None and not (assignee.is_active and _can_work(assignee)):
        raise ValidationFailed(
            _("%(name)s cannot work tickets.") % {"name": assignee}, field="assignee"
        )
    changed = []
    if (assignee.pk if assignee else None) != locked.assignee_id:
        event_add(
            ticket=locked,
            kind=EventKind.ASSIGNED,
            at=now,
            actor=actor,
            to=assignee.pk if assignee else None,
            **{"from": locked.assignee_id},
        )
        locked.assignee = assignee
        changed.append("assignee")
    if team is not None and team.pk != locked.team_id:
        event_add(
            ticket=locked,
            kind=EventKind.TEAM,
            at=now,
            actor=actor,
            to=team.pk,
            **{"from": locked.team_id},
        )
        locked.team = team
        changed.append("team")
    if changed:
        locked.save(update_fields=[*changed, "updated_at"])
    return locked


def tickets_bulk_assign(*, ticket_ids: list[int], actor: User, assignee: User | None) -> int:
    """Assign several tickets, each in its own transaction and lock order by id."""
    if not actor.has_perm("complaints.assign_ticket"):
        raise NotAllowed()
    done = 0
    for ticket in Ticket.objects.filter(pk__in=ticket_ids).order_by("pk"):
        ticket_assign(ticket=ticket, actor=actor, assignee=assignee)
        done += 1
    return done


@transaction.atomic
def ticket_triage(
    *,
    ticket: Ticket,
    actor: User,
    priority: str | None = None,
    category: Category | None = None,
    at: dt.datetime | None = None,
) -> Ticket:
    """Change priority or category; the SLA policy is matched again and the due times follow
    (counted from the ticket's creation, as the new policy would have from the start)."""
    if not _can_work(actor):
        raise NotAllowed()
    now = at or timezone.now()
    locked = lock_ticket(ticket_id=ticket.pk)
    changed = []
    if priority is not None and priority != locked.priority:
        if priority not in PRIORITY_RANK:
            raise ValidationFailed(_("Unknown priority."), field="priority")
        event_add(
            ticket=locked,
            kind=EventKind.PRIORITY,
            at=now,
            actor=actor,
            to=priority,
            **{"from": locked.priority},
        )
        locked.priority = priority
        changed.append("priority")
    if category is not None and category.pk != locked.category_id:
        if not category.active:
            raise ValidationFailed(_("This category is no longer in use."), field="category")
        event_add(
            ticket=locked,
            kind=EventKind.CATEGORY,
            at=now,
            actor=actor,
            to=category.pk,
            **{"from": locked.category_id},
        )
        locked.category = category
        changed.append("category")
    if not changed:
        return locked
    locked.save(update_fields=[*changed, "updated_at"])
    if locked.status not in (TicketStatus.RESOLVED, TicketStatus.CLOSED):
        clocks_start(ticket=locked, now=now, actor=actor)
    return locked
