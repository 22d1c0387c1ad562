"""Campaign exports are audited (invariant 8): the dashboard's export views record each one
here before they hand out the rows (the delivery layer writes no audit rows itself)."""

from collections.abc import Iterator
from typing import Any

from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from apps.core.exports import XLSX_MAX_ROWS, ExportRows
from apps.core.services import export_record
from apps.customers.enums import Channel

from .enums import MessageStatus, Suppression
from .models import Campaign, Message

MESSAGE_CHUNK = 2_000


def campaign_export_record(
    *, actor: Any, campaign: Campaign, what: str, fmt: str, rows: int | None, details=None
) -> None:
    """``what``: ``campaign`` (the results table) or ``campaign_messages``."""
    export_record(
        actor=actor,
        what=what,
        fmt=fmt,
        rows=rows,
        target=campaign,
        summary=f"{campaign}: {fmt}" + (f", {rows} rows" if rows is not None else ""),
        details=details,
    )


def _message_rows(values, *, language: str | None) -> Iterator[list]:
    # Labels in the reader's language, read now: CSV rows are written after the view returns.
    with translation.override(language):
        statuses = {k: str(v) for k, v in MessageStatus.choices}
        channels = {k: str(v) for k, v in Channel.choices}
        reasons = {k: str(v) for k, v in Suppression.choices}
    for status, reason, channel, *times, label, number in values.iterator(chunk_size=MESSAGE_CHUNK):
        yield [
            number,
            channels.get(channel, ""),
            statuses.get(status, status),
            reasons.get(reason, ""),
            label or "",
            *times,
        ]


def campaign_messages_queryset(*, campaign: Campaign):
    return Message.objects.filter(campaign=campaign)


def campaign_messages_export(*, campaign: Campaign, actor: Any, fmt: str) -> ExportRows:
    """Every message of the campaign (one per recipient and step, the holdout's included) with
    its status, suppression reason and times, audited as ``export.campaign_messages``."""
    header = [
        _("Member number"),
        _("Channel"),
        _("Status"),
        _("Reason"),
        _("Variant"),
        pgettext("campaign", "Placed"),
        _("Sent"),
        _("Delivered"),
        _("Opened"),
        _("Clicked"),
        _("Unsubscribed"),
    ]
    values = (
        campaign_messages_queryset(campaign=campaign)
        .order_by("pk")
        .values_list(
            "status",
            "reason",
            "channel",
            "created_at",
            "sent_at",
            "delivered_at",
            "opened_at",
            "clicked_at",
            "unsubscribed_at",
            "variant__label",
            "customer__member_number",
        )
    )
    count = values.count()
    truncated = fmt == "xlsx" and count > XLSX_MAX_ROWS
    if fmt == "xlsx":
        values = values[:XLSX_MAX_ROWS]
    written = min(count, XLSX_MAX_ROWS) if fmt == "xlsx" else count
    campaign_export_record(
        actor=actor, campaign=campaign, what="campaign_messages", fmt=fmt, rows=written
    )
    return ExportRows(
        header=[str(h) for h in header],
        rows=_message_rows(values, language=translation.get_language()),
        count=count,
        truncated=truncated,
    )
