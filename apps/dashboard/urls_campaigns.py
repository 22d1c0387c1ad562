"""Campaigns under /staff/campaigns/ (names ``dashboard:campaign-*``; ``campaign-list`` is the
area's entry in DESIGN §6)."""

from django.urls import path

from .views import campaign_preview, campaign_results, campaigns

urlpatterns = [
    path("campaigns/", campaigns.CampaignListView.as_view(), name="campaign-list"),
    path(
        "campaigns/export/", campaigns.CampaignListExportView.as_view(), name="campaign-list-export"
    ),
    path("campaigns/new/", campaigns.CampaignCreateView.as_view(), name="campaign-create"),
    path(
        "campaigns/<int:pk>/",
        campaign_results.CampaignDetailView.as_view(),
        name="campaign-detail",
    ),
    path("campaigns/<int:pk>/edit/", campaigns.CampaignEditView.as_view(), name="campaign-edit"),
    path("campaigns/<int:pk>/start/", campaigns.CampaignStartView.as_view(), name="campaign-start"),
    path("campaigns/<int:pk>/pause/", campaigns.CampaignPauseView.as_view(), name="campaign-pause"),
    path(
        "campaigns/<int:pk>/resume/",
        campaigns.CampaignResumeView.as_view(),
        name="campaign-resume",
    ),
    path(
        "campaigns/<int:pk>/cancel/",
        campaigns.CampaignCancelView.as_view(),
        name="campaign-cancel",
    ),
    path(
        "campaigns/<int:pk>/progress/",
        campaigns.CampaignProgressView.as_view(),
        name="campaign-progress",
    ),
    path(
        "campaigns/<int:pk>/preview/",
        campaign_preview.CampaignPreviewView.as_view(),
        name="campaign-preview",
    ),
    path(
        "campaigns/<int:pk>/preview/email/",
        campaign_preview.CampaignPreviewEmailView.as_view(),
        name="campaign-preview-email",
    ),
    path(
        "campaigns/<int:pk>/test-send/",
        campaign_preview.CampaignTestSendView.as_view(),
        name="campaign-test-send",
    ),
    path(
        "campaigns/<int:pk>/messages/",
        campaign_results.CampaignMessagesView.as_view(),
        name="campaign-messages",
    ),
    path(
        "campaigns/<int:pk>/export.<str:fmt>",
        campaign_results.CampaignResultsExportView.as_view(),
        name="campaign-export",
    ),
    path(
        "campaigns/<int:pk>/messages/export.<str:fmt>",
        campaign_results.CampaignMessagesExportView.as_view(),
        name="campaign-messages-export",
    ),
]
