"""The audit trail; included from ``apps/dashboard/urls.py`` with ``path("", include(...))``."""

from django.urls import path

from .views import audit

urlpatterns = [
    path("audit/", audit.AuditListView.as_view(), name="audit-list"),
    path("audit/export/", audit.AuditExportView.as_view(), name="audit-export"),
    path("audit/<int:pk>/", audit.AuditDetailView.as_view(), name="audit-detail"),
]
