"""The KPI dashboard under /staff/kpi/ (names ``dashboard:kpi``, ``dashboard:kpi-export``,
``dashboard:kpi-customers``)."""

from django.urls import path

from .views import kpi

urlpatterns = [
    path("kpi/", kpi.KPIView.as_view(), name="kpi"),
    path("kpi/export/", kpi.KPIExportView.as_view(), name="kpi-export"),
    path("kpi/<slug:key>/customers/", kpi.KPICustomersView.as_view(), name="kpi-customers"),
]
