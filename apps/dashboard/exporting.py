"""Writing a list's export: ``export_file_response`` in the request (small exports),
``export_job_build`` in a worker (large ones, ``apps.dashboard.tasks``). Both read the list's
filters through the same ``ExportSource`` (``apps.dashboard.export_sources``); the choice
between them is ``apps.dashboard.views.export_jobs.export_respond``."""

from collections.abc import Iterable, Mapping, Sequence

from django.core.exceptions import BadRequest
from django.http import HttpResponse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from apps.core.exceptions import ApplicationError
from apps.core.export_jobs import (
    export_job_claim,
    export_job_fail,
    export_job_write,
)
from apps.core.exports import XLSX_MAX_ROWS, ExportRows, csv_response, xlsx_response
from apps.core.models import ExportJob

from .export_sources import SOURCES, ExportSource

FORMATS = ("csv", "xlsx")


def export_params(source: ExportSource, query: Mapping[str, str], **fixed) -> dict[str, str]:
    """The list's filters the export reads, from the query string, plus the ones in the URL
    (a campaign's or a survey's id)."""
    params = {key: query.get(key, "") for key in source.keys}
    params.update({key: str(value) for key, value in fixed.items()})
    return params


def _then(rows: Iterable[Sequence], tail: list[Sequence]):
    yield from rows
    yield from tail


def export_rows_noted(export: ExportRows, fmt: str) -> Iterable[Sequence]:
    """The rows, and under a spreadsheet cut at Excel's limit a last row that says so."""
    if fmt != "xlsx" or not export.truncated:
        return export.rows
    note = _("Only the first %(n)s rows are in this workbook; export as CSV for all %(total)s.") % {
        "n": f"{XLSX_MAX_ROWS:,}",
        "total": f"{export.count:,}",
    }
    return _then(export.rows, [(note,)])


def export_file_response(*, export: ExportRows, fmt: str, basename: str, title) -> HttpResponse:
    filename = f"{basename}-{timezone.localdate():%Y%m%d}"
    if fmt == "csv":
        return csv_response(filename=filename, header=export.header, rows=export.rows)
    response = xlsx_response(
        filename=filename,
        title=str(title),
        header=export.header,
        rows=export_rows_noted(export, fmt),
    )
    if export.truncated:
        response["X-Export-Truncated"] = str(XLSX_MAX_ROWS)
    return response


def export_job_build(job_id) -> ExportJob | None:
    """The worker's part: claim the job, build the list's audited rows as whoever started it
    (in their language, with their permissions as they are now) and write the file. None when
    another worker has it or it is finished."""
    job = export_job_claim(job_id=job_id)
    if job is None:
        return None
    source = SOURCES.get(job.kind)
    user = job.created_by
    with translation.override(job.language):
        allowed = source is not None and user.is_active and user.is_staff
        if not (allowed and user.has_perms(source.permissions)):
            export_job_fail(job=job, error=_("You may no longer take this export."))
            return job
        try:
            export = source.rows(job.params, user, job.fmt)
        except (ApplicationError, BadRequest) as exc:
            message = getattr(exc, "message", "") or _("The filters are not valid.")
            export_job_fail(job=job, error=str(message))
            return job
        noted = ExportRows(
            header=export.header,
            rows=export_rows_noted(export, job.fmt),
            count=export.count,
            truncated=export.truncated,
        )
        try:
            return export_job_write(
                job=job,
                export=noted,
                title=str(source.title),
                basename=source.file_stem(job.params),
            )
        except Exception:
            export_job_fail(job=job, error=_("The export could not be written; start it again."))
            raise
