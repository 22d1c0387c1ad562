"""Exports out of every list: ``export_respond`` streams a small export in the request and queues
a large one (more than ``EXPORT_BACKGROUND_ROWS`` rows) for a worker, answering with the job's
page: a progress bar (htmx) that turns into a download link that expires."""

from django.db import transaction
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils import timezone
from django.views import View
from django.views.generic import DetailView

from apps.core.export_jobs import (
    export_background_threshold,
    export_job_create,
    export_job_downloadable,
)
from apps.core.models import ExportJob
from apps.core.private_files import DOWNLOAD_HEADERS, private_storage
from apps.core.replica import reporting

from ..export_sources import SOURCES
from ..exporting import FORMATS, export_file_response, export_params
from ..tasks import export_job_run
from .mixins import StaffRequiredMixin

CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def export_respond(request, *, kind: str, fmt: str, params: dict[str, str]) -> HttpResponse:
    """The export of list ``kind`` under ``params``: the file now, or a job for a worker and a
    redirect to its page. The caller's view has checked the source's permissions."""
    source = SOURCES[kind]
    if source.size is not None:
        with reporting():  # a count for a report: the replica's, when there is one
            size = source.size(params, request.user)
        if size > export_background_threshold():
            job = export_job_create(
                kind=kind, fmt=fmt, params=params, actor=request.user, total_rows=size
            )
            job_id = str(job.pk)
            transaction.on_commit(lambda: export_job_run.delay(job_id))
            return redirect("dashboard:export-job", pk=job.pk)
    export = source.rows(params, request.user, fmt)
    return export_file_response(
        export=export, fmt=fmt, basename=source.file_stem(params), title=source.title
    )


class SourceExportView(StaffRequiredMixin, View):
    """A list's export at ``…/export/?format=csv|xlsx`` (or ``export.<fmt>``) with the list's
    filters; URL arguments (a campaign's id) are filters too."""

    kind = ""

    def has_permission(self) -> bool:
        user = self.request.user
        return user.is_staff and user.has_perms(SOURCES[self.kind].permissions)

    def get(self, request, fmt: str | None = None, **kwargs):
        if fmt is None:
            fmt = request.GET.get("format", "csv")
            fmt = fmt if fmt in FORMATS else "csv"
        elif fmt not in FORMATS:
            raise Http404
        params = export_params(SOURCES[self.kind], request.GET, **kwargs)
        return export_respond(request, kind=self.kind, fmt=fmt, params=params)


class _OwnJobMixin(StaffRequiredMixin):
    """A background export is its starter's: anyone else gets a 404."""

    context_object_name = "job"

    def get_object(self, queryset=None):
        job = get_object_or_404(ExportJob, pk=self.kwargs["pk"], created_by=self.request.user)
        source = SOURCES.get(job.kind)
        job.title = source.title if source is not None else job.kind
        job.downloadable = export_job_downloadable(job=job, user=self.request.user)
        return job


class ExportJobView(_OwnJobMixin, DetailView):
    template_name = "dashboard/data/export_job.html"


class ExportJobProgressView(_OwnJobMixin, DetailView):
    """The job's state, polled every second by the job page while a worker is on it."""

    template_name = "dashboard/data/_export_progress.html"


class ExportJobDownloadView(_OwnJobMixin, View):
    def get(self, request, pk):
        job = self.get_object()
        if not job.downloadable:
            # Expired, failed or not written yet: the job page says which.
            return redirect("dashboard:export-job", pk=job.pk)
        try:
            handle = private_storage().open(job.stored_name, "rb")
        except FileNotFoundError:
            raise Http404 from None

        response = FileResponse(
            handle, as_attachment=True, filename=job.file_name, content_type=CONTENT_TYPES[job.fmt]
        )
        for header, value in DOWNLOAD_HEADERS.items():
            response[header] = value
        response["X-Export-Expires"] = timezone.localtime(job.expires_at).isoformat()
        return response
