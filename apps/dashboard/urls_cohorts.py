"""Cohort retention under /staff/kpi/cohorts/ (names ``dashboard:kpi-cohorts*``)."""

from django.urls import path

from .views import kpi_cohorts

urlpatterns = [
    path("kpi/cohorts/", kpi_cohorts.CohortView.as_view(), name="kpi-cohorts"),
    path("kpi/cohorts/export/", kpi_cohorts.CohortExportView.as_view(), name="kpi-cohorts-export"),
]
