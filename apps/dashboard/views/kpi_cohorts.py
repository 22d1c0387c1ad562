"""Cohort retention (/staff/kpi/cohorts/): members by join month (or first-purchase month) ×
months since, as a heat map of retention or of revenue per member, with filters and exports.

Managers and Administrators only. The page asks for ``analytics.view_analyticssettings``, the
analytics read right the role matrix gives those two roles and no other (``analytics`` migration
0003): the cohorts show revenue across the whole programme, a manager's figure, not a marketer's
or an agent's."""

from decimal import Decimal

from django.utils.translation import gettext as _
from django.views import View
from django.views.generic import TemplateView

from apps.analytics.cohorts import CohortMatrix, cohort_export, cohort_matrix
from apps.core.exports import csv_response, xlsx_response
from apps.customers.selectors import store_list
from apps.loyalty.models import Tier

from ..forms_cohorts import MEASURE_REVENUE, CohortFilterForm
from .mixins import StaffRequiredMixin

COHORTS_PERMISSION = "analytics.view_kpisnapshot"  # the KPI pages: Managers, Administrators
HEAT_LEVELS = 10


def _form(request) -> CohortFilterForm:
    return CohortFilterForm(
        request.GET or None,
        stores=list(store_list()),
        tiers=list(Tier.objects.order_by("rank")),
    )


def _level(value: float) -> int:
    """A cell's shade, 0 (none) … ``HEAT_LEVELS``, for a value in 0–1."""
    if value <= 0:
        return 0
    return max(1, min(HEAT_LEVELS, round(value * HEAT_LEVELS)))


def heat_rows(matrix: CohortMatrix, *, measure: str) -> list[dict]:
    """The matrix with a shade per cell: retention by its share, revenue per member against the
    matrix's highest."""
    top = matrix.max_revenue_per_member
    rows = []
    for row in matrix.rows:
        cells = []
        for cell in row.cells:
            if cell is None:
                cells.append(None)
                continue
            if measure == MEASURE_REVENUE:
                share = float(cell.revenue_per_member / top) if top > Decimal(0) else 0.0
            else:
                share = cell.rate
            cells.append({"cell": cell, "level": _level(share)})
        rows.append({"row": row, "cells": cells})
    return rows


class CohortView(StaffRequiredMixin, TemplateView):
    permission_required = COHORTS_PERMISSION
    template_name = "dashboard/kpi/cohorts.html"

    def get_context_data(self, **kwargs):
        form = _form(self.request)
        filters = form.cohort_filters()
        matrix = cohort_matrix(filters=filters)
        measure = form.chosen_measure
        return super().get_context_data(
            form=form,
            filters=filters,
            measure=measure,
            matrix=matrix,
            rows=heat_rows(matrix, measure=measure),
            selected=form.selected,
            **kwargs,
        )


class CohortExportView(StaffRequiredMixin, View):
    permission_required = COHORTS_PERMISSION

    def get(self, request):
        form = _form(request)
        fmt = request.GET.get("format", "csv")
        fmt = fmt if fmt in ("csv", "xlsx") else "csv"
        matrix = cohort_matrix(filters=form.cohort_filters())
        header, rows = cohort_export(matrix=matrix, actor=request.user, fmt=fmt)
        filename = f"cohorts-{matrix.filters.basis}-{matrix.as_of:%Y%m}"
        if fmt == "csv":
            return csv_response(filename=filename, header=header, rows=rows)
        return xlsx_response(
            filename=filename, title=_("Cohort retention"), header=header, rows=rows
        )
