from django.urls import path

from .views import join, member, privacy, public

app_name = "portal"

urlpatterns = [
    path("", public.HomeView.as_view(), name="home"),
    path("me/", member.OverviewView.as_view(), name="overview"),
    path("me/join/", join.JoinView.as_view(), name="join"),
    path("me/card/", member.CardView.as_view(), name="card"),
    path("me/profile/", member.ProfileView.as_view(), name="profile"),
    path("me/messages/", member.MessageListView.as_view(), name="messages"),
    path("me/messages/<int:pk>/", member.MessageDetailView.as_view(), name="message-detail"),
    path("me/privacy/", privacy.PrivacyView.as_view(), name="privacy"),
    path("me/privacy/export/", privacy.ExportView.as_view(), name="export"),
    path("me/privacy/delete/", privacy.DeleteAccountView.as_view(), name="delete"),
    path("goodbye/", privacy.DeletedView.as_view(), name="deleted"),
    path("u/<str:token>/", privacy.UnsubscribeView.as_view(), name="unsubscribe"),
]
