from django.urls import path

from .views import campaigns, complaints, join, loyalty, member, privacy, public, surveys

app_name = "portal"

urlpatterns = [
    path("", public.HomeView.as_view(), name="home"),
    path("me/", member.OverviewView.as_view(), name="overview"),
    path("me/join/", join.JoinView.as_view(), name="join"),
    path("me/card/", member.CardView.as_view(), name="card"),
    path("me/points/", loyalty.PointsView.as_view(), name="points"),
    path("me/points/export.<str:fmt>", loyalty.PointsExportView.as_view(), name="points-export"),
    path("me/rewards/", loyalty.RewardListView.as_view(), name="rewards"),
    path(
        "me/rewards/redemptions/<int:pk>/",
        loyalty.RedemptionDetailView.as_view(),
        name="redemption-detail",
    ),
    path(
        "me/rewards/redemptions/<int:pk>/cancel/",
        loyalty.RedemptionCancelView.as_view(),
        name="redemption-cancel",
    ),
    path(
        "me/rewards/<slug:slug>/redeem/", loyalty.RewardRedeemView.as_view(), name="reward-redeem"
    ),
    path("me/coupons/", loyalty.CouponListView.as_view(), name="coupons"),
    path("me/referrals/", loyalty.ReferralsView.as_view(), name="referrals"),
    path("r/<str:code>/", loyalty.ReferralLandingView.as_view(), name="referral-landing"),
    path("me/profile/", member.ProfileView.as_view(), name="profile"),
    path("me/messages/", member.MessageListView.as_view(), name="messages"),
    path("me/messages/<int:pk>/", member.MessageDetailView.as_view(), name="message-detail"),
    path("me/privacy/", privacy.PrivacyView.as_view(), name="privacy"),
    path("me/privacy/export/", privacy.ExportView.as_view(), name="export"),
    path("me/privacy/delete/", privacy.DeleteAccountView.as_view(), name="delete"),
    path("goodbye/", privacy.DeletedView.as_view(), name="deleted"),
    path("u/<str:token>/", privacy.UnsubscribeView.as_view(), name="unsubscribe"),
    path("o/<str:token>/", campaigns.OpenPixelView.as_view(), name="campaign-open"),
    path("c/<str:token>/", campaigns.ClickView.as_view(), name="campaign-click"),
    path("me/complaints/", complaints.ComplaintListView.as_view(), name="complaints"),
    path("me/complaints/new/", complaints.ComplaintCreateView.as_view(), name="complaint-new"),
    path(
        "me/complaints/rate/<str:token>/<int:score>/",
        complaints.ComplaintRateView.as_view(),
        name="complaint-rate",
    ),
    path(
        "me/complaints/<str:reference>/",
        complaints.ComplaintDetailView.as_view(),
        name="complaint-detail",
    ),
    path(
        "me/complaints/<str:reference>/files/<int:pk>/",
        complaints.ComplaintAttachmentView.as_view(),
        name="complaint-attachment",
    ),
    path("me/surveys/", surveys.MemberSurveyListView.as_view(), name="surveys"),
    path("s/preview/<int:pk>/", surveys.SurveyPreviewView.as_view(), name="survey-preview"),
    path("s/<str:token>/", surveys.SurveyAnswerView.as_view(), name="survey-answer"),
    path("s/<str:token>/started/", surveys.SurveyStartedView.as_view(), name="survey-started"),
]
