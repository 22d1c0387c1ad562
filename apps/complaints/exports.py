"""Complaint report exports: the table handed to a writer (CSV or XLSX), audited once written
(invariant 8)."""

from collections.abc import Callable, Iterable
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext_lazy

from apps.core.exports import ExportRows
from apps.core.services import export_audited, export_record

from .enums import Priority, TicketChannel, TicketStatus
from .models import Category, Team
from .reports import Table


def report_export(
    *,
    table: Table,
    actor,
    fmt: str,
    filters: dict[str, Any],
    write: Callable[[list[str], Iterable[list]], Any],
):
    written = write(table.header, table.rows)
    export_record(
        actor=actor,
        what="complaint_report",
        fmt=fmt,
        rows=len(table.rows),
        summary=f"{table.key}, {fmt}",
        details={"table": table.key, "filters": {k: v for k, v in filters.items() if v}},
    )
    return written


TICKET_COLUMNS = [
    ("reference", gettext_lazy("Reference")),
    ("created_at", gettext_lazy("Filed")),
    ("customer__member_number", gettext_lazy("Member number")),
    ("subject", gettext_lazy("Subject")),
    ("category_id", gettext_lazy("Category")),
    ("channel", gettext_lazy("Channel")),
    ("priority", gettext_lazy("Priority")),
    ("status", gettext_lazy("Status")),
    ("assignee__full_name", gettext_lazy("Assignee")),
    ("team_id", gettext_lazy("Team")),
    ("first_response_due", gettext_lazy("First response due")),
    ("first_responded_at", gettext_lazy("First responded")),
    ("first_response_breached_at", gettext_lazy("First response breached")),
    ("resolution_due", gettext_lazy("Resolution due")),
    ("resolved_at", gettext_lazy("Resolved")),
    ("resolution_breached_at", gettext_lazy("Resolution breached")),
    ("resolution_minutes", gettext_lazy("Resolution (business minutes)")),
    ("satisfaction", gettext_lazy("Satisfaction")),
]


def tickets_export(*, qs, actor, fmt: str, filters: dict[str, Any]) -> ExportRows:
    """The queue's tickets as they are filtered, in the reader's language (labels, names, local
    times), audited as ``export.tickets``."""
    categories = {c.pk: str(c.name) for c in Category.objects.all()}
    teams = {t.pk: str(t.name) for t in Team.objects.all()}
    labels = {
        4: categories,
        5: dict(TicketChannel.choices),
        6: dict(Priority.choices),
        7: dict(TicketStatus.choices),
        9: teams,
    }

    def row(values: tuple) -> list:
        out = list(values)
        for index, mapping in labels.items():
            out[index] = str(mapping.get(out[index], out[index] or ""))
        for index in (1, 10, 11, 12, 13, 14, 15):
            out[index] = timezone.localtime(out[index]).replace(tzinfo=None) if out[index] else None
        return out

    return export_audited(
        qs=qs.order_by("-created_at", "-id"),
        columns=TICKET_COLUMNS,
        fmt=fmt,
        actor=actor,
        action="export.tickets",
        filters=filters,
        row=row,
    )
