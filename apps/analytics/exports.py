"""Spreadsheet rows of customer value: the at-risk list and a segment's customers."""

from collections.abc import Iterable

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from apps.core.exports import money_cell, money_header, yes_no
from apps.core.services import export_audited, export_record

from .enums import ChurnBand, RFMSegment
from .wording import reasons_text

SEGMENT_COLUMNS = [
    ("member_number", gettext_lazy("Member number")),
    ("last_name", gettext_lazy("Family name")),
    ("first_name", gettext_lazy("Given name")),
    ("email", gettext_lazy("E-mail")),
    ("phone", gettext_lazy("Phone")),
    ("metrics__rfm_segment", gettext_lazy("RFM segment")),
    ("metrics__churn_band", gettext_lazy("Churn risk band")),
    ("metrics__predicted_clv", gettext_lazy("Predicted CLV")),
    ("metrics__health_score", gettext_lazy("Health score")),
]


def at_risk_rows(entries: Iterable) -> tuple[list[str], list[list]]:
    header = [
        _("Member number"),
        _("Name"),
        _("Churn risk"),
        money_header(_("Predicted CLV")),
        _("Health score"),
        _("Reasons"),
        _("Suggested action"),
        _("Assigned to"),
        _("Came back"),
    ]
    rows = [
        [
            e.customer.member_number,
            e.customer.display_name,
            round(e.churn_risk, 3),
            money_cell(e.predicted_clv),
            e.health_score,
            "; ".join(reasons_text(e.reasons)),
            e.get_action_display(),
            e.assigned_to.display_name if e.assigned_to else "",
            yes_no(getattr(e, "came_back", None)),
        ]
        for e in entries
    ]
    return header, rows


def segment_export(*, segment, qs, actor, fmt: str):
    """A segment's customers as they match now, audited as ``export.segment``."""
    bands, segments = dict(ChurnBand.choices), dict(RFMSegment.choices)

    def row(values: tuple) -> list:
        out = list(values)
        out[5] = str(segments.get(out[5], out[5] or ""))
        out[6] = str(bands.get(out[6], out[6] or ""))
        out[7] = money_cell(out[7])
        return out

    return export_audited(
        qs=qs.order_by("pk"),
        columns=[(path, title) for path, title in SEGMENT_COLUMNS],
        fmt=fmt,
        actor=actor,
        action="export.segment",
        filters={"segment": segment.pk},
        row=row,
    )


def at_risk_export(*, entries: list, week, actor, fmt: str) -> tuple[list[str], list[list]]:
    """The week's list in the reader's language, audited as ``export.at_risk``."""
    header, rows = at_risk_rows(entries)
    export_record(
        actor=actor,
        what="at_risk",
        fmt=fmt,
        rows=len(rows),
        details={"filters": {"week": week.isoformat()}},
    )
    return header, rows


def kpi_rows(board) -> tuple[list[str], list[list]]:
    """The KPI board's trend as a table: a row per day shown, a column per KPI, amounts as money
    cells (the KPI export and the scheduled KPI summary write these rows)."""

    def title(kpi) -> str:
        if kpi.unit == "money":
            return money_header(kpi.label)
        return f"{kpi.label} (%)" if kpi.unit == "percent" else str(kpi.label)

    def cell(kpi, value):
        return money_cell(value) if kpi.unit == "money" else value

    header = [_("As of")] + [title(card.kpi) for card in board.cards]
    rows = [
        [day] + [cell(card.kpi, values.get(card.kpi.key)) for card in board.cards]
        for day, values in board.series()
    ]
    return header, rows


def kpi_export(*, board, actor, fmt: str) -> tuple[list[str], list[list]]:
    """``kpi_rows``, audited as ``export.kpi`` with the filters the board was read with."""
    header, rows = kpi_rows(board)
    export_record(
        actor=actor,
        what="kpi",
        fmt=fmt,
        rows=len(rows),
        details={
            "filters": {
                "day": board.day.isoformat(),
                "window": board.window,
                "scope": board.scope.key,
            }
        },
    )
    return header, rows
