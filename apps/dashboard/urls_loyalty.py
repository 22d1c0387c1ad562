"""Staff loyalty pages under /staff/loyalty/ (names ``dashboard:loyalty-*``)."""

from django.urls import path

from .views import loyalty as views
from .views import loyalty_coupons as coupons
from .views import loyalty_redemptions as redemptions
from .views import loyalty_rewards as rewards
from .views import loyalty_rules as rules
from .views import loyalty_settings as programme
from .views import loyalty_tiers as tiers

urlpatterns = [
    path("loyalty/programme/", programme.ProgrammeEditView.as_view(), name="loyalty-programme"),
    path("loyalty/rules/", rules.EarnRuleListView.as_view(), name="loyalty-rule-list"),
    path("loyalty/rules/export/", rules.EarnRuleExportView.as_view(), name="loyalty-rule-export"),
    path("loyalty/rules/new/", rules.EarnRuleCreateView.as_view(), name="loyalty-rule-create"),
    path(
        "loyalty/rules/preview/",
        rules.EarnRulePreviewView.as_view(),
        name="loyalty-rule-preview",
    ),
    path("loyalty/rules/<int:pk>/", rules.EarnRuleEditView.as_view(), name="loyalty-rule-edit"),
    path(
        "loyalty/rules/<int:pk>/deactivate/",
        rules.EarnRuleDeactivateView.as_view(),
        name="loyalty-rule-deactivate",
    ),
    path("loyalty/tiers/", tiers.TierListView.as_view(), name="loyalty-tier-list"),
    path("loyalty/tiers/export/", tiers.TierExportView.as_view(), name="loyalty-tier-export"),
    path("loyalty/tiers/new/", tiers.TierCreateView.as_view(), name="loyalty-tier-create"),
    path("loyalty/tiers/<int:pk>/", tiers.TierEditView.as_view(), name="loyalty-tier-edit"),
    path("loyalty/rewards/", rewards.RewardListView.as_view(), name="loyalty-reward-list"),
    path(
        "loyalty/rewards/export/",
        rewards.RewardExportView.as_view(),
        name="loyalty-reward-export",
    ),
    path("loyalty/rewards/new/", rewards.RewardCreateView.as_view(), name="loyalty-reward-create"),
    path("loyalty/rewards/<int:pk>/", rewards.RewardEditView.as_view(), name="loyalty-reward-edit"),
    path(
        "loyalty/rewards/<int:pk>/stock/",
        rewards.RewardRestockView.as_view(),
        name="loyalty-reward-restock",
    ),
    path(
        "loyalty/redemptions/",
        redemptions.RedemptionQueueView.as_view(),
        name="loyalty-redemption-list",
    ),
    path(
        "loyalty/redemptions/export/",
        redemptions.RedemptionExportView.as_view(),
        name="loyalty-redemption-export",
    ),
    path(
        "loyalty/redemptions/fulfil/",
        redemptions.RedemptionBulkFulfilView.as_view(),
        name="loyalty-redemption-bulk-fulfil",
    ),
    path(
        "loyalty/redemptions/<int:pk>/fulfil/",
        redemptions.RedemptionActionView.as_view(action="fulfil"),
        name="loyalty-redemption-fulfil",
    ),
    path(
        "loyalty/redemptions/<int:pk>/cancel/",
        redemptions.RedemptionActionView.as_view(action="cancel"),
        name="loyalty-redemption-cancel",
    ),
    path("loyalty/coupons/", coupons.CouponBatchListView.as_view(), name="loyalty-coupon-list"),
    path(
        "loyalty/coupons/new/",
        coupons.CouponBatchCreateView.as_view(),
        name="loyalty-coupon-create",
    ),
    path(
        "loyalty/coupons/<int:pk>/",
        coupons.CouponBatchDetailView.as_view(),
        name="loyalty-coupon-batch",
    ),
    path(
        "loyalty/coupons/<int:pk>/export.<str:fmt>",
        coupons.CouponBatchExportView.as_view(),
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
        "loyalty/approvals/export/",
        views.AdjustmentExportView.as_view(),
        name="loyalty-approval-export",
    ),
    path(
        "loyalty/approvals/<int:pk>/",
        views.AdjustmentDecideView.as_view(),
        name="loyalty-approval-decide",
    ),
    path("loyalty/liability/", views.LiabilityView.as_view(), name="loyalty-liability"),
    path("loyalty/ledger/", views.LedgerVerificationView.as_view(), name="loyalty-ledger"),
    path("loyalty/ledger/export/", views.LedgerExportView.as_view(), name="loyalty-ledger-export"),
    path(
        "loyalty/liability/export.<str:fmt>",
        views.LiabilityExportView.as_view(),
        name="loyalty-liability-export",
    ),
]
