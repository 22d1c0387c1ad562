from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from .views.complaints import ComplaintCreateApi, ComplaintDetailApi
from .views.customers import CustomerDetailApi, CustomerListApi
from .views.events import CustomerEventCreateApi
from .views.inbound import InboundEmailApi
from .views.loyalty import (
    CouponRedeemApi,
    CouponValidateApi,
    PointsApi,
    PointsTransactionListApi,
    RedemptionCreateApi,
    RewardListApi,
)
from .views.orders import OrderCreateApi, RefundCreateApi
from .views.segments import SegmentPreviewApi
from .views.sms import SmsReceiptApi
from .views.surveys import SurveyInvitationCreateApi

app_name = "api"

v1_patterns = [
    path("customers/", CustomerListApi.as_view(), name="customer-list"),
    path("customers/<str:member_number>/", CustomerDetailApi.as_view(), name="customer-detail"),
    path(
        "customers/<str:member_number>/points/",
        PointsApi.as_view(),
        name="customer-points",
    ),
    path(
        "customers/<str:member_number>/events/",
        CustomerEventCreateApi.as_view(),
        name="customer-events",
    ),
    path(
        "customers/<str:member_number>/points/transactions/",
        PointsTransactionListApi.as_view(),
        name="customer-points-transactions",
    ),
    path("orders/", OrderCreateApi.as_view(), name="order-create"),
    path(
        "orders/<slug:store>/<str:external_id>/refunds/",
        RefundCreateApi.as_view(),
        name="refund-create",
    ),
    path("complaints/", ComplaintCreateApi.as_view(), name="complaint-create"),
    path("complaints/<str:reference>/", ComplaintDetailApi.as_view(), name="complaint-detail"),
    path("inbound/email/", InboundEmailApi.as_view(), name="inbound-email"),
    path("segments/preview/", SegmentPreviewApi.as_view(), name="segment-preview"),
    path("sms/receipts/", SmsReceiptApi.as_view(), name="sms-receipts"),
    path("rewards/", RewardListApi.as_view(), name="reward-list"),
    path("redemptions/", RedemptionCreateApi.as_view(), name="redemption-create"),
    path("coupons/validate/", CouponValidateApi.as_view(), name="coupon-validate"),
    path("coupons/redeem/", CouponRedeemApi.as_view(), name="coupon-redeem"),
    path(
        "surveys/<slug:slug>/invitations/",
        SurveyInvitationCreateApi.as_view(),
        name="survey-invitation-create",
    ),
]

urlpatterns = [
    path("v1/", include(v1_patterns)),
    path(
        "schema/",
        SpectacularAPIView.as_view(authentication_classes=[], permission_classes=[]),
        name="schema",
    ),
    # The split view serves Swagger UI's set-up as a script file (docs/?script), not inline: the
    # Content-Security-Policy allows no inline script.
    path(
        "docs/",
        SpectacularSwaggerSplitView.as_view(
            url_name="api:schema", authentication_classes=[], permission_classes=[]
        ),
        name="docs",
    ),
]
