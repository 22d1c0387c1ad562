"""The complaint queue and ticket pages under /staff/tickets/ (names ``dashboard:ticket-*``)."""

from django.urls import path

from .views import ticket_reports
from .views import tickets as views

urlpatterns = [
    path("tickets/", views.TicketListView.as_view(), name="ticket-list"),
    path("tickets/export.<str:fmt>", views.TicketExportView.as_view(), name="ticket-export"),
    path("tickets/new/", views.TicketCreateView.as_view(), name="ticket-create"),
    path("tickets/reports/", ticket_reports.TicketReportsView.as_view(), name="ticket-reports"),
    path(
        "tickets/reports/<slug:table>.<str:fmt>",
        ticket_reports.TicketReportExportView.as_view(),
        name="ticket-report-export",
    ),
    path("tickets/assign/", views.TicketBulkAssignView.as_view(), name="ticket-bulk-assign"),
    path(
        "tickets/approvals/",
        views.CompensationApprovalListView.as_view(),
        name="ticket-approvals",
    ),
    path(
        "tickets/compensation/<int:pk>/decide/",
        views.CompensationDecideView.as_view(),
        name="compensation-decide",
    ),
    path("tickets/<str:reference>/", views.TicketDetailView.as_view(), name="ticket-detail"),
    path("tickets/<str:reference>/reply/", views.TicketReplyView.as_view(), name="ticket-reply"),
    path("tickets/<str:reference>/take/", views.TicketTakeView.as_view(), name="ticket-take"),
    path("tickets/<str:reference>/assign/", views.TicketAssignView.as_view(), name="ticket-assign"),
    path("tickets/<str:reference>/status/", views.TicketStatusView.as_view(), name="ticket-status"),
    path("tickets/<str:reference>/triage/", views.TicketTriageView.as_view(), name="ticket-triage"),
    path(
        "tickets/<str:reference>/files/<int:pk>/",
        views.TicketAttachmentView.as_view(),
        name="ticket-attachment",
    ),
    path(
        "tickets/<str:reference>/compensate/",
        views.TicketCompensateView.as_view(),
        name="ticket-compensate",
    ),
]
