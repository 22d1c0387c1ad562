from django.urls import path

from .views import data, exports

urlpatterns = [
    path("data/import/", data.ImportView.as_view(), name="data-import"),
    path("data/import/<uuid:pk>/", data.ImportJobView.as_view(), name="data-import-job"),
    path(
        "data/import/<uuid:pk>/progress/",
        data.ImportJobProgressView.as_view(),
        name="data-import-job-progress",
    ),
    path(
        "data/import/<uuid:pk>/start/",
        data.ImportJobStartView.as_view(),
        name="data-import-job-start",
    ),
    path("customers/export/", data.CustomerExportView.as_view(), name="customer-export"),
    path("orders/export/", data.OrderExportView.as_view(), name="order-export"),
    path("data/exports/", exports.ExportHistoryView.as_view(), name="export-list"),
]
