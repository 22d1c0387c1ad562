"""What a scheduled report e-mail holds: its subject, the headline figures, a table or two for the
body, and the spreadsheets attached, in the active language.

``report_data`` reads the figures once per send (they are the same in every language);
``report_render`` words them for one language (call it inside ``translation.override``). The
spreadsheets are written from the same rows the staff exports write (``exports.kpi_rows``,
``exports.at_risk_rows``, ``complaints.reports.report_tables``), so the attachment matches what a
manager would download from the page. Reads only: the at-risk list is built by the caller.
"""

import datetime as dt
from dataclasses import dataclass, field

from django.conf import settings
from django.urls import reverse
from django.utils import formats
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from apps.complaints.reports import report_tables
from apps.core import formatting
from apps.core.exports import XLSX_CONTENT_TYPE, export_filename, xlsx_file

from .enums import ReportKind
from .exports import at_risk_rows, kpi_rows
from .kpi_board import Board, Card, kpi_board
from .kpi_format import kpi_change_text, kpi_display
from .report_periods import WEEKLY, Period
from .selectors import at_risk_list

# The KPI summary's headline figures, in this order (the attachment has every KPI).
HEADLINE_KPIS = (
    "members",
    "new_members",
    "active_members",
    "repeat_rate",
    "retention_rate",
    "churn_rate",
    "revenue",
    "orders",
    "aov",
    "nps",
    "csat",
    "complaint_rate",
    "sla_compliance",
    "points_issued",
    "points_redeemed",
    "liability",
    "retention_roi",
)
BODY_ROWS = 20  # the at-risk list's top entries in the body; the rest is in the attachment
TABLE_ROWS = 10  # rows of a complaints table in the body


@dataclass
class Figure:
    label: str
    value: str
    change: str = ""
    good: bool | None = None


@dataclass
class BodyTable:
    title: str
    header: list[str]
    rows: list[list[str]]
    more: int = 0


@dataclass
class Attachment:
    filename: str
    content: bytes
    mimetype: str = XLSX_CONTENT_TYPE


@dataclass
class ReportData:
    """The figures of one report for one period, read once per send."""

    kind: str
    period: Period
    board: Board | None = None
    entries: list = field(default_factory=list)
    week: dt.date | None = None

    @property
    def empty(self) -> bool:
        """Nothing to send: an at-risk list with nobody on it (as the weekly mail always did)."""
        return self.kind == ReportKind.AT_RISK and not self.entries


@dataclass
class ReportContent:
    subject: str
    title: str
    period_label: str
    intro: str
    figures: list[Figure]
    tables: list[BodyTable]
    attachments: list[Attachment]
    url: str
    rows: int  # spreadsheet rows attached, for the export audit


def at_risk_week(period: Period) -> dt.date:
    """The at-risk list a weekly period sends: the list of the week after it (built on that
    Monday from who turned high risk during the period)."""
    return period.end + dt.timedelta(days=1)


def report_data(*, kind: str, period: Period) -> ReportData:
    if kind == ReportKind.KPI:
        return ReportData(kind, period, board=kpi_board(day=period.end, window=period.days))
    if kind == ReportKind.AT_RISK:
        week = at_risk_week(period)
        return ReportData(kind, period, entries=list(at_risk_list(week=week)), week=week)
    return ReportData(kind, period)


def period_label(period: Period) -> str:
    if period.frequency == WEEKLY:
        return _("%(start)s to %(end)s") % {
            "start": formats.date_format(period.start, "SHORT_DATE_FORMAT"),
            "end": formats.date_format(period.end, "SHORT_DATE_FORMAT"),
        }
    return formats.date_format(period.start, "YEAR_MONTH_FORMAT")


def _site(path: str) -> str:
    return settings.SITE_URL.rstrip("/") + path


def _kpi_change(card: Card) -> tuple[str, bool | None]:
    change = card.vs_previous
    return kpi_change_text(change), None if change is None else change["good"]


def _xlsx(name: str, title: str, header, rows) -> Attachment:
    return Attachment(
        f"{export_filename(name)}.xlsx", xlsx_file(title=title, header=header, rows=rows).read()
    )


def _render_kpi(data: ReportData, label: str) -> ReportContent:
    board = data.board
    cards = {card.kpi.key: card for card in board.cards}
    figures = []
    for key in HEADLINE_KPIS:
        card = cards.get(key)
        if card is None:
            continue
        change, good = _kpi_change(card)
        figures.append(
            Figure(str(card.kpi.label), kpi_display(card.value, card.kpi.unit), change, good)
        )
    header, rows = kpi_rows(board)
    title = str(ReportKind.KPI.label)
    query = f"?day={board.day.isoformat()}&window={board.window}"
    return ReportContent(
        subject=_("%(report)s: %(period)s") % {"report": title, "period": label},
        title=title,
        period_label=label,
        intro=_(
            "The programme's main figures for %(period)s, each against the same number of days "
            "just before. Every KPI over the last periods is in the attached workbook."
        )
        % {"period": label},
        figures=figures,
        tables=[],
        attachments=[_xlsx(f"kpi-{data.period.key}", _("KPIs"), header, rows)],
        url=_site(reverse("dashboard:kpi") + query),
        rows=len(rows),
    )


def _render_at_risk(data: ReportData, label: str) -> ReportContent:
    week, entries = data.week, data.entries
    header, rows = at_risk_rows(entries)
    count = len(entries)
    week_text = formats.date_format(week, "SHORT_DATE_FORMAT")
    intro = ngettext(
        "%(counter)s customer joined the at-risk list in the week of %(week)s.",
        "%(counter)s customers joined the at-risk list in the week of %(week)s.",
        count,
    ) % {"counter": count, "week": week_text}
    intro += " " + _(
        "They are likely to stop buying and are among your most valuable customers. The list "
        "with their reasons and a suggested action is attached, and on the dashboard:"
    )
    shown = [0, 1, 3, 5, 6]  # member number, name, CLV, reasons, suggested action
    table = BodyTable(
        title=_("The top %(n)s by predicted CLV") % {"n": min(count, BODY_ROWS)},
        header=[str(header[i]) for i in shown],
        rows=[
            [formatting.money(row[i], whole=True) if i == 3 else str(row[i] or "") for i in shown]
            for row in rows[:BODY_ROWS]
        ],
        more=max(0, count - BODY_ROWS),
    )
    return ReportContent(
        subject=_("At-risk customers for the week of %(week)s: %(count)s")
        % {"week": week.isoformat(), "count": count},
        title=str(ReportKind.AT_RISK.label),
        period_label=label,
        intro=intro,
        figures=[Figure(_("Customers on the list"), formatting.number(count))],
        tables=[table],
        attachments=[_xlsx(f"at-risk-{week.isoformat()}", _("At risk"), header, rows)],
        url=_site(reverse("dashboard:at-risk") + f"?week={week.isoformat()}"),
        rows=len(rows),
    )


def _render_complaints(data: ReportData, label: str) -> ReportContent:
    period = data.period
    tables = report_tables(since=period.start, until=period.end, by="team")
    by_key = {table.key: table for table in tables}
    sla = by_key["sla-team"]
    filed = sum(row[1] for row in sla.rows)
    breached = sum(row[4] for row in sla.rows)
    open_now = sum(row[1] for row in by_key["backlog"].rows)
    title = str(ReportKind.COMPLAINTS.label)

    def body(table) -> BodyTable:
        return BodyTable(
            title=str(table.title),
            header=[str(h) for h in table.header],
            rows=[["" if v is None else str(v) for v in row] for row in table.rows[:TABLE_ROWS]],
            more=max(0, len(table.rows) - TABLE_ROWS),
        )

    query = f"?since={period.start.isoformat()}&until={period.end.isoformat()}"
    return ReportContent(
        subject=_("%(report)s: %(period)s") % {"report": title, "period": label},
        title=title,
        period_label=label,
        intro=_(
            "Complaints filed in %(period)s: SLA compliance, root causes and the backlog. Every "
            "table of the complaint reports page is attached."
        )
        % {"period": label},
        figures=[
            Figure(_("Complaints filed"), formatting.number(filed)),
            Figure(_("Breached an SLA"), formatting.number(breached)),
            Figure(_("Open now"), formatting.number(open_now)),
        ],
        tables=[body(sla), body(by_key["root-causes"])],
        attachments=[
            _xlsx(
                f"complaints-{period.key}-{table.key}", str(table.title), table.header, table.rows
            )
            for table in tables
        ],
        url=_site(reverse("dashboard:ticket-reports") + query),
        rows=sum(len(table.rows) for table in tables),
    )


RENDERERS = {
    ReportKind.KPI: _render_kpi,
    ReportKind.AT_RISK: _render_at_risk,
    ReportKind.COMPLAINTS: _render_complaints,
}


def report_render(data: ReportData) -> ReportContent:
    """The e-mail's content in the active language."""
    return RENDERERS[ReportKind(data.kind)](data, period_label(data.period))
