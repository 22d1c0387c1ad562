"""Outbound webhooks under /staff/integrations/ (names ``dashboard:integration-*``)."""

from django.urls import path

from .views import integrations as views

urlpatterns = [
    path("integrations/", views.EndpointListView.as_view(), name="integration-list"),
    path("integrations/new/", views.EndpointCreateView.as_view(), name="integration-create"),
    path("integrations/<int:pk>/", views.EndpointDetailView.as_view(), name="integration-detail"),
    path("integrations/<int:pk>/edit/", views.EndpointEditView.as_view(), name="integration-edit"),
    path(
        "integrations/<int:pk>/secret/",
        views.EndpointSecretRevealView.as_view(),
        name="integration-secret-reveal",
    ),
    path(
        "integrations/<int:pk>/secret/rotate/",
        views.EndpointSecretRotateView.as_view(),
        name="integration-secret-rotate",
    ),
    path("integrations/<int:pk>/test/", views.EndpointTestView.as_view(), name="integration-test"),
    path(
        "integrations/<int:pk>/enable/",
        views.EndpointEnableView.as_view(),
        name="integration-enable",
    ),
    path(
        "integrations/<int:pk>/disable/",
        views.EndpointDisableView.as_view(),
        name="integration-disable",
    ),
    path(
        "integrations/<int:pk>/deliveries/<uuid:delivery_id>/",
        views.DeliveryDetailView.as_view(),
        name="integration-delivery",
    ),
    path(
        "integrations/<int:pk>/deliveries/<uuid:delivery_id>/replay/",
        views.DeliveryReplayView.as_view(),
        name="integration-delivery-replay",
    ),
]
