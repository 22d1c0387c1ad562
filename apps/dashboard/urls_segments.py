"""Segments under /staff/segments/ and customer value under /staff/analytics/ (names
``dashboard:segment-*``, ``dashboard:at-risk*``, ``dashboard:analytics-model``)."""

from django.urls import path

from .views import analytics, segments

urlpatterns = [
    path("segments/", segments.SegmentListView.as_view(), name="segment-list"),
    path("segments/export/", segments.SegmentListExportView.as_view(), name="segment-list-export"),
    path("segments/new/", segments.SegmentCreateView.as_view(), name="segment-create"),
    path("segments/count/", segments.SegmentCountView.as_view(), name="segment-count"),
    path("segments/<int:pk>/", segments.SegmentDetailView.as_view(), name="segment-detail"),
    path("segments/<int:pk>/edit/", segments.SegmentEditView.as_view(), name="segment-edit"),
    path("segments/<int:pk>/freeze/", segments.SegmentFreezeView.as_view(), name="segment-freeze"),
    path("segments/<int:pk>/delete/", segments.SegmentDeleteView.as_view(), name="segment-delete"),
    path("segments/<int:pk>/export/", segments.SegmentExportView.as_view(), name="segment-export"),
    path("analytics/at-risk/", analytics.AtRiskView.as_view(), name="at-risk"),
    path("analytics/at-risk/export/", analytics.AtRiskExportView.as_view(), name="at-risk-export"),
    path(
        "analytics/at-risk/<int:pk>/assign/",
        analytics.AtRiskAssignView.as_view(),
        name="at-risk-assign",
    ),
    path("analytics/model/", analytics.ModelView.as_view(), name="analytics-model"),
]
