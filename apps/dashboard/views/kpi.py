"""The manager's KPI dashboard (/staff/kpi/): every KPI as of a day over a trailing window, against
the window before and a year earlier, with its trend; one scope at a time (the programme, a
store, a tier or a segment); the customers behind a number; the trend to CSV or Excel."""

import datetime as dt

from django.core.paginator import Paginator
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View
from django.views.generic import TemplateView

from apps.analytics.exports import kpi_export
from apps.analytics.kpi_board import Board, kpi_board
from apps.analytics.kpi_format import kpi_change_text, kpi_display
from apps.analytics.kpis import BY_KEY, DEFAULT_WINDOW, WINDOWS, Scope, Window, kpi_customers
from apps.analytics.models import Segment
from apps.core.exports import csv_response, xlsx_response
from apps.customers.models import Store
from apps.loyalty.models import Tier

from .mixins import StaffRequiredMixin

PERMISSION = "analytics.view_kpisnapshot"
PER_PAGE = 50
WINDOW_LABELS = {
    7: gettext_lazy("7 days"),
    30: gettext_lazy("30 days"),
    90: gettext_lazy("90 days"),
    365: gettext_lazy("365 days"),
}
# A day before this is unreadable: the windows and trend points before it would leave the
# calendar (date.min) and no programme has data from then.
EARLIEST_DAY = dt.date(2000, 1, 1)


def _filters(request) -> tuple[dt.date, int, Scope]:
    """The day (a finished one; yesterday by default), the window and the scope from the query
    string; anything unreadable falls back to the default."""
    yesterday = timezone.localdate() - dt.timedelta(days=1)
    try:
        day = dt.date.fromisoformat(request.GET.get("day", ""))
    except ValueError:
        day = yesterday
    day = min(day, yesterday) if day >= EARLIEST_DAY else yesterday
    try:
        window = int(request.GET.get("window", DEFAULT_WINDOW))
    except ValueError:
        window = DEFAULT_WINDOW
    window = window if window in WINDOWS else DEFAULT_WINDOW
    return day, window, Scope.from_key(request.GET.get("scope", "all"))


def _scope_choices() -> list[tuple[str, list[tuple[str, str]]]]:
    return [
        (_("Programme"), [("all", _("Whole programme"))]),
        (
            _("Store"),
            [
                (f"store:{s.pk}", s.name)
                for s in Store.objects.filter(is_active=True).order_by("pk")
            ],
        ),
        (_("Tier"), [(f"tier:{t.pk}", t.name) for t in Tier.objects.order_by("rank")]),
        (_("Segment"), [(f"segment:{s.pk}", s.name) for s in Segment.objects.order_by("pk")]),
    ]


def _query(day: dt.date, window: int, scope: Scope) -> str:
    return f"day={day.isoformat()}&window={window}&scope={scope.key}"


class KPIView(StaffRequiredMixin, TemplateView):
    permission_required = PERMISSION
    template_name = "dashboard/kpi/kpi.html"

    def get_context_data(self, **kwargs):
        day, window, scope = _filters(self.request)
        board = kpi_board(day=day, window=window, scope=scope)
        groups = [
            (
                title,
                [
                    {
                        "kpi": card.kpi,
                        # Only a figure has people behind it: "–" (no data) is not a link.
                        "people": card.kpi.people and card.value is not None,
                        "value": kpi_display(card.value, card.kpi.unit),
                        "previous": kpi_display(card.previous, card.kpi.unit),
                        "last_year": kpi_display(card.last_year, card.kpi.unit),
                        "vs_previous": card.vs_previous,
                        "vs_previous_text": kpi_change_text(card.vs_previous),
                        "vs_last_year": card.vs_last_year,
                        "vs_last_year_text": kpi_change_text(card.vs_last_year),
                    }
                    for card in cards
                ],
            )
            for title, cards in board.groups()
        ]
        trend = {
            "labels": [d.isoformat() for d in board.trend_days],
            "series": {card.kpi.key: card.trend for card in board.cards},
        }
        return super().get_context_data(
            board=board,
            groups=groups,
            trend=trend,
            day=day,
            window=window,
            windows=[(w, WINDOW_LABELS[w]) for w in WINDOWS],
            scope_key=scope.key,
            scope_choices=_scope_choices(),
            query=_query(day, window, scope),
            first_day=Window(day, window).first_day,
            max_day=timezone.localdate() - dt.timedelta(days=1),
            **kwargs,
        )


class KPIExportView(StaffRequiredMixin, View):
    permission_required = PERMISSION

    def get(self, request):
        day, window, scope = _filters(request)
        fmt = request.GET.get("format", "csv")
        fmt = fmt if fmt in ("csv", "xlsx") else "csv"
        board: Board = kpi_board(day=day, window=window, scope=scope)
        header, rows = kpi_export(board=board, actor=request.user, fmt=fmt)
        filename = f"kpi-{day:%Y%m%d}-{window}d"
        if fmt == "csv":
            return csv_response(filename=filename, header=header, rows=rows)
        return xlsx_response(filename=filename, title=_("KPIs"), header=header, rows=rows)


class KPICustomersView(StaffRequiredMixin, TemplateView):
    """The customers a KPI counts for the day, window and scope the dashboard showed."""

    permission_required = (PERMISSION, "customers.view_customer")
    template_name = "dashboard/kpi/customers.html"

    def get_context_data(self, **kwargs):
        kpi = BY_KEY.get(kwargs["key"])
        if kpi is None or not kpi.people:
            raise Http404
        day, window, scope = _filters(self.request)
        qs = kpi_customers(kpi.key, window=Window(day, window), scope=scope).select_related("store")
        page = Paginator(qs.order_by("-joined_at", "pk"), PER_PAGE).get_page(
            self.request.GET.get("page")
        )
        return super().get_context_data(
            kpi=kpi,
            page_obj=page,
            day=day,
            window=window,
            first_day=Window(day, window).first_day,
            query=_query(day, window, scope),
            scope_name=dict(item for _title, items in _scope_choices() for item in items).get(
                scope.key, _("Whole programme")
            ),
            **kwargs,
        )
