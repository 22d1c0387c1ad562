"""The campaign list's export (issue 14): the campaigns of the list's kind and status with the
figures the list shows (audience, reached, conversion against the holdout), audited through
:func:`apps.core.services.export_audited` as ``export.campaigns``.

A chunk of campaigns is read as the list reads a page: the rows (their names in the reader's
language, with the other as fallback) and ``campaign_figures`` for them, a fixed number of
queries whatever the chunk's size."""

from collections.abc import Iterable, Sequence

from django.utils.translation import gettext_lazy as _

from apps.accounts.models import User
from apps.core.exports import ExportRows, money_cell, money_header
from apps.core.services import export_audited
from apps.customers.enums import Channel

from .enums import CampaignKind, CampaignStatus, Trigger
from .listing import campaign_figures, campaign_list


def campaign_list_header() -> list:
    return [
        _("Campaign"),
        _("Kind"),
        _("Trigger"),
        _("Segment"),
        _("Status"),
        _("Channels"),
        _("Audience"),
        _("Reached"),
        _("Conversion (%)"),
        _("Holdout conversion (%)"),
        _("Uplift (percentage points)"),
        _("Scheduled for"),
        _("Started"),
        _("Finished"),
        money_header(_("Spent")),
        money_header(_("Budget")),
    ]


def _rate(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def campaigns_export(
    *, actor: User | None, fmt: str, kind: str = "", status: str = ""
) -> ExportRows:
    """The campaigns of the list's filters, newest first, with the list's figures."""
    qs = campaign_list(kind=kind, status=status)
    kinds = {k: str(v) for k, v in CampaignKind.choices}
    statuses = {k: str(v) for k, v in CampaignStatus.choices}
    triggers = {k: str(v) for k, v in Trigger.choices}
    channels = {k: str(v) for k, v in Channel.choices}

    def chunk(batch: list[tuple]) -> Iterable[Sequence]:
        found = qs.in_bulk([pk for (pk,) in batch])
        campaigns = [found[pk] for (pk,) in batch if pk in found]
        figures = campaign_figures(campaigns=campaigns)
        rows = []
        for c in campaigns:
            f = figures[c.pk]
            if c.kind == CampaignKind.BROADCAST:
                audience = c.audience_size if c.started_at else None
            else:
                audience = f["placed"]
            rows.append(
                (
                    c.name,
                    kinds.get(c.kind, c.kind),
                    triggers.get(c.trigger, c.trigger),
                    c.segment.name if c.segment is not None else "",
                    statuses.get(c.status, c.status),
                    ", ".join(channels.get(ch, ch) for ch in c.channels or []),
                    audience,
                    f["reached"] if f["placed"] else None,
                    _rate(f["treated_rate"]),
                    _rate(f["holdout_rate"]),
                    _rate(f["uplift"]),
                    c.scheduled_at,
                    c.started_at,
                    c.finished_at,
                    money_cell(c.spent),
                    money_cell(c.budget),
                )
            )
        return rows

    return export_audited(
        qs=qs,
        columns=[("id", None)],
        header=campaign_list_header(),
        fmt=fmt,
        actor=actor,
        action="export.campaigns",
        filters={"kind": kind, "status": status},
        chunk=chunk,
    )
