"""Scheduled reports under /staff/kpi/reports/ (names ``dashboard:report-subscription-*``)."""

from django.urls import path

from .views import reports

urlpatterns = [
    path(
        "kpi/reports/",
        reports.ReportSubscriptionListView.as_view(),
        name="report-subscription-list",
    ),
    path(
        "kpi/reports/new/",
        reports.ReportSubscriptionCreateView.as_view(),
        name="report-subscription-create",
    ),
    path(
        "kpi/reports/<int:pk>/edit/",
        reports.ReportSubscriptionUpdateView.as_view(),
        name="report-subscription-update",
    ),
    path(
        "kpi/reports/<int:pk>/delete/",
        reports.ReportSubscriptionDeleteView.as_view(),
        name="report-subscription-delete",
    ),
    path(
        "kpi/reports/<int:pk>/send-test/",
        reports.ReportSubscriptionSendTestView.as_view(),
        name="report-subscription-send-test",
    ),
]
