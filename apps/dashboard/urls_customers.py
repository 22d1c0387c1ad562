from django.urls import path

from .views import customers, orders

urlpatterns = [
    path("customers/", customers.CustomerListView.as_view(), name="customer-list"),
    path("customers/new/", customers.CustomerCreateView.as_view(), name="customer-create"),
    path(
        "customers/<str:member_number>/",
        customers.CustomerDetailView.as_view(),
        name="customer-detail",
    ),
    path(
        "customers/<str:member_number>/edit/",
        customers.CustomerEditView.as_view(),
        name="customer-edit",
    ),
    path(
        "customers/<str:member_number>/interactions/",
        customers.InteractionCreateView.as_view(),
        name="interaction-create",
    ),
    path(
        "customers/<str:member_number>/tags/",
        customers.TagAddView.as_view(),
        name="customer-tag-add",
    ),
    path(
        "customers/<str:member_number>/tags/<int:tag_id>/remove/",
        customers.TagRemoveView.as_view(),
        name="customer-tag-remove",
    ),
    path(
        "customers/<str:member_number>/consent/",
        customers.ConsentUpdateView.as_view(),
        name="consent-update",
    ),
    path("orders/", orders.OrderListView.as_view(), name="order-list"),
]
