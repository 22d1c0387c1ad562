"""Staff loyalty pages under /staff/loyalty/ (names ``dashboard:loyalty-*``)."""

from django.urls import path

from .views import loyalty as views
from .views import loyalty_programme as config

urlpatterns = [
    path("loyalty/programme/", config.ProgrammeEditView.as_view(), name="loyalty-programme"),
    path("loyalty/rules/", config.EarnRuleListView.as_view(), name="loyalty-rule-list"),
    path("loyalty/rules/new/", config.EarnRuleCreateView.as_view(), name="loyalty-rule-create"),
    path(
        "loyalty/rules/preview/",
        config.EarnRulePreviewView.as_view(),
        name="loyalty-rule-preview",
    ),
    path("loyalty/rules/<int:pk>/", config.EarnRuleEditView.as_view(), name="loyalty-rule-edit"),
    path(
        "loyalty/rules/<int:pk>/deactivate/",
        config.EarnRuleDeactivateView.as_view(),
        name="loyalty-rule-deactivate",
    ),
    path("loyalty/tiers/", config.TierListView.as_view(), name="loyalty-tier-list"),
    path("loyalty/tiers/new/", config.TierCreateView.as_view(), name="loyalty-tier-create"),
    path("loyalty/tiers/<int:pk>/", config.TierEditView.as_view(), name="loyalty-tier-edit"),
    path("loyalty/rewards/", config.RewardListView.as_view(), name="loyalty-reward-list"),
    path("loyalty/rewards/new/", config.RewardCreateView.as_view(), name="loyalty-reward-create"),
    path("loyalty/rewards/<int:pk>/", config.RewardEditView.as_view(), name="loyalty-reward-edit"),
    path(
        "loyalty/rewards/<int:pk>/stock/",
        config.RewardRestockView.as_view(),
        name="loyalty-reward-restock",
    ),
    path(
        "loyalty/redemptions/",
        config.RedemptionQueueView.as_view(),
        name="loyalty-redemption-list",
    ),
    path(
        "loyalty/redemptions/<int:pk>/fulfil/",
        config.RedemptionActionView.as_view(action="fulfil"),
        name="loyalty-redemption-fulfil",
    ),
    path(
        "loyalty/redemptions/<int:pk>/cancel/",
        config.RedemptionActionView.as_view(action="cancel"),
        name="loyalty-redemption-cancel",
    ),
    path("loyalty/coupons/", config.CouponBatchListView.as_view(), name="loyalty-coupon-list"),
    path(
        "loyalty/coupons/new/",
        config.CouponBatchCreateView.as_view(),
        name="loyalty-coupon-create",
    ),
    path(
        "loyalty/coupons/<int:pk>/",
        config.CouponBatchDetailView.as_view(),
        name="loyalty-coupon-batch",
    ),
    path(
        "loyalty/coupons/<int:pk>/export.<str:fmt>",
        config.CouponBatchExportView.as_view(),
        name="loyalty-coupon-export",
    ),
    path(
        "loyalty/members/<str:member_number>/",
        views.CustomerLoyaltyView.as_view(),
        name="loyalty-customer",
    ),
    path(
        "loyalty/members/<str:member_number>/adjust/",
        views.PointsAdjustView.as_view(),
        name="loyalty-adjust",
    ),
    path("loyalty/approvals/", views.AdjustmentQueueView.as_view(), name="loyalty-approval-list"),
    path(
        "loyalty/approvals/<int:pk>/",
        views.AdjustmentDecideView.as_view(),
        name="loyalty-approval-decide",
    ),
    path("loyalty/liability/", views.LiabilityView.as_view(), name="loyalty-liability"),
    path("loyalty/ledger/", views.LedgerVerificationView.as_view(), name="loyalty-ledger"),
    path(
        "loyalty/liability/export.<str:fmt>",
        views.LiabilityExportView.as_view(),
        name="loyalty-liability-export",
    ),
]
