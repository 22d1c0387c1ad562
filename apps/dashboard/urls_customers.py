from django.urls import path, register_converter

from .views import customers, duplicates, orders


class MemberNumberConverter:
    """Member numbers are digits (see apps.customers.identifiers). Matching only digits keeps
    sibling routes such as ``customers/export/`` (mounted after these) reachable."""

    regex = "[0-9]+"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return str(value)


register_converter(MemberNumberConverter, "member_number")

urlpatterns = [
    path("customers/", customers.CustomerListView.as_view(), name="customer-list"),
    path("customers/new/", customers.CustomerCreateView.as_view(), name="customer-create"),
    path(
        "customers/quick/",
        customers.CustomerQuickSearchView.as_view(),
        name="customer-quick-search",
    ),
    path(
        "customers/<member_number:member_number>/",
        customers.CustomerDetailView.as_view(),
        name="customer-detail",
    ),
    path(
        "customers/<member_number:member_number>/panels/<slug:panel>/",
        customers.CustomerPanelView.as_view(),
        name="customer-panel",
    ),
    path(
        "customers/<member_number:member_number>/edit/",
        customers.CustomerEditView.as_view(),
        name="customer-edit",
    ),
    path(
        "customers/<member_number:member_number>/interactions/",
        customers.InteractionCreateView.as_view(),
        name="interaction-create",
    ),
    path(
        "customers/<member_number:member_number>/tags/",
        customers.TagAddView.as_view(),
        name="customer-tag-add",
    ),
    path(
        "customers/<member_number:member_number>/tags/<int:tag_id>/remove/",
        customers.TagRemoveView.as_view(),
        name="customer-tag-remove",
    ),
    path(
        "customers/<member_number:member_number>/consent/",
        customers.ConsentUpdateView.as_view(),
        name="consent-update",
    ),
    path("orders/", orders.OrderListView.as_view(), name="order-list"),
    path("duplicates/", duplicates.DuplicateListView.as_view(), name="duplicate-list"),
    path(
        "duplicates/<member_number:first>/<member_number:second>/",
        duplicates.CustomerMergeView.as_view(),
        name="customer-merge",
    ),
]
