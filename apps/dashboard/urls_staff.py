"""Staff users and roles, for Administrators; included from ``apps/dashboard/urls.py``."""

from django.urls import path

from .views import staff_users as views

urlpatterns = [
    path("users/", views.StaffUserListView.as_view(), name="staff-user-list"),
    path("users/invite/", views.StaffInviteView.as_view(), name="staff-user-invite"),
    path("users/<int:pk>/", views.StaffUserDetailView.as_view(), name="staff-user-detail"),
    path("users/<int:pk>/role/", views.StaffRoleChangeView.as_view(), name="staff-user-role"),
    path(
        "users/<int:pk>/deactivate/",
        views.StaffDeactivateView.as_view(),
        name="staff-user-deactivate",
    ),
    path(
        "users/<int:pk>/reactivate/",
        views.StaffReactivateView.as_view(),
        name="staff-user-reactivate",
    ),
    path(
        "users/<int:pk>/invite/",
        views.StaffInviteResendView.as_view(),
        name="staff-user-invite-resend",
    ),
]
