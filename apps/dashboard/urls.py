from django.urls import include, path

from .views import home

app_name = "dashboard"

urlpatterns = [
    path("", home.HomeView.as_view(), name="home"),
    # Data first: "customers/export/" must win over "customers/<member_number>/".
    path("", include("apps.dashboard.urls_data")),
    path("", include("apps.dashboard.urls_customers")),
    path("", include("apps.dashboard.urls_loyalty")),
    path("", include("apps.dashboard.urls_surveys")),
    path("", include("apps.dashboard.urls_tickets")),
    path("", include("apps.dashboard.urls_calendars")),
    path("", include("apps.dashboard.urls_segments")),
    path("", include("apps.dashboard.urls_cohorts")),
    path("", include("apps.dashboard.urls_kpi")),
    path("", include("apps.dashboard.urls_reports")),
    path("", include("apps.dashboard.urls_campaigns")),
    path("", include("apps.dashboard.urls_privacy")),
    path("", include("apps.dashboard.urls_audit")),
    path("", include("apps.dashboard.urls_staff")),
    path("", include("apps.dashboard.urls_integrations")),
    path("", include("apps.dashboard.urls_survey_analysis")),
]
