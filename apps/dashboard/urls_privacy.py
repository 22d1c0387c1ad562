"""Staff privacy URLs; included from ``apps/dashboard/urls.py`` with ``path("", include(...))``."""

from django.urls import path

from .views import privacy

urlpatterns = [
    path(
        "customers/<str:member_number>/privacy/export/",
        privacy.CustomerExportView.as_view(),
        name="customer-privacy-export",
    ),
    path(
        "customers/<str:member_number>/privacy/erase/",
        privacy.CustomerEraseView.as_view(),
        name="customer-erase",
    ),
]
