"""Business calendars under /staff/calendars/ (names ``dashboard:calendar-*``)."""

from django.urls import path

from .views import calendars as views

urlpatterns = [
    path("calendars/", views.CalendarListView.as_view(), name="calendar-list"),
    path("calendars/import/", views.CalendarImportView.as_view(), name="calendar-import"),
    path("calendars/<slug:code>/", views.CalendarDetailView.as_view(), name="calendar-detail"),
    path(
        "calendars/<slug:code>/export.json",
        views.CalendarExportView.as_view(),
        name="calendar-export",
    ),
]
