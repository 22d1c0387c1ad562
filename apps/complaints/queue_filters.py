"""The complaint queue's filters read from a query string, in one place: the queue page, its
export and a background export worker all read them here, so a file holds what the page showed."""

from collections.abc import Mapping

from .enums import Priority, TicketChannel, TicketStatus
from .staff_selectors import SORTS, VIEWS, QueueFilters


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _choice(value, allowed) -> str:
    return value if value in allowed else ""


def queue_filters_parse(params: Mapping[str, str], *, user) -> QueueFilters:
    """Unknown values fall back to no filter; an agent's default view is their own tickets."""
    view = params.get("view") or ("mine" if user.has_perm("complaints.work_ticket") else "open")
    return QueueFilters(
        view=view if view in VIEWS else "open",
        status=_choice(params.get("status"), TicketStatus.values),
        priority=_choice(params.get("priority"), Priority.values),
        category=_int(params.get("category")),
        team=_int(params.get("team")),
        assignee=_int(params.get("assignee")),
        channel=_choice(params.get("channel"), TicketChannel.values),
        q=(params.get("q") or "")[:100],
        sort=params.get("sort", "due") if params.get("sort") in SORTS else "due",
    )


QUEUE_FILTER_KEYS = (
    "view",
    "status",
    "priority",
    "category",
    "team",
    "assignee",
    "channel",
    "q",
    "sort",
)
