"""A survey's analysis, text answers and exports; included from ``apps/dashboard/urls.py``
with ``path("", include(...))``."""

from django.urls import path

from .views import survey_analysis as views

urlpatterns = [
    path("surveys/<int:pk>/", views.SurveyDetailView.as_view(), name="survey-detail"),
    path("surveys/<int:pk>/answers/", views.SurveyAnswersView.as_view(), name="survey-answers"),
    path(
        "surveys/<int:pk>/export.<str:fmt>",
        views.SurveyResponsesExportView.as_view(),
        name="survey-export",
    ),
    path(
        "surveys/<int:pk>/report/<slug:table>.<str:fmt>",
        views.SurveyReportExportView.as_view(),
        name="survey-report-export",
    ),
]
