from django.urls import path

from .views import data, export_jobs, exports

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
    path("data/exports/<uuid:pk>/", export_jobs.ExportJobView.as_view(), name="export-job"),
    path(
        "data/exports/<uuid:pk>/progress/",
        export_jobs.ExportJobProgressView.as_view(),
        name="export-job-progress",
    ),
    path(
        "data/exports/<uuid:pk>/download/",
        export_jobs.ExportJobDownloadView.as_view(),
        name="export-job-download",
    ),
]
