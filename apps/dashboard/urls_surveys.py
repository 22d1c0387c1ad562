"""Staff survey builder under /staff/surveys/ (names ``dashboard:survey-*``). The analysis page
``survey-detail`` (/staff/surveys/<pk>/) lives with the survey results."""

from django.urls import path

from .views import surveys as views

urlpatterns = [
    path("surveys/", views.SurveyListView.as_view(), name="survey-list"),
    path("surveys/new/", views.SurveyCreateView.as_view(), name="survey-create"),
    path("surveys/<int:pk>/edit/", views.SurveyEditView.as_view(), name="survey-edit"),
    path(
        "surveys/<int:pk>/questions/", views.SurveyQuestionsView.as_view(), name="survey-questions"
    ),
    path(
        "surveys/<int:pk>/questions/new/",
        views.QuestionFormView.as_view(),
        name="survey-question-add",
    ),
    path(
        "surveys/<int:pk>/questions/order/",
        views.QuestionReorderView.as_view(),
        name="survey-questions-reorder",
    ),
    path(
        "surveys/<int:pk>/questions/<int:question>/",
        views.QuestionFormView.as_view(),
        name="survey-question-edit",
    ),
    path(
        "surveys/<int:pk>/questions/<int:question>/delete/",
        views.QuestionDeleteView.as_view(),
        name="survey-question-delete",
    ),
    path(
        "surveys/<int:pk>/questions/<int:question>/move/",
        views.QuestionMoveView.as_view(),
        name="survey-question-move",
    ),
    path("surveys/<int:pk>/status/", views.SurveyStatusView.as_view(), name="survey-status"),
    path("surveys/<int:pk>/copy/", views.SurveyCopyView.as_view(), name="survey-copy"),
    path("surveys/<int:pk>/invite/", views.SurveyInviteView.as_view(), name="survey-invite"),
    path("surveys/<int:pk>/preview/", views.SurveyPreviewView.as_view(), name="survey-preview"),
]
