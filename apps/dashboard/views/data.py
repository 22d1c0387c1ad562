"""Data in and out: the import page (upload → the worker checks the whole file → preview →
confirmed import by the worker, both passes with an htmx progress page) and the audited CSV /
Excel exports of customers and orders (``export_sources``)."""

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.utils.translation import gettext_lazy
from django.views import View
from django.views.generic import DetailView, FormView

from apps.core.exceptions import ApplicationError
from apps.customers.forms import upload_clean
from apps.customers.importing.files import ALLOWED_EXTENSIONS
from apps.customers.importing.jobs import import_job_create, import_job_start
from apps.customers.models import ImportJob

from .export_jobs import SourceExportView
from .mixins import StaffRequiredMixin

IMPORT_PERMISSIONS = {
    ImportJob.Kind.CUSTOMERS: "customers.import_customer",
    ImportJob.Kind.ORDERS: "customers.import_order",
}


class ImportForm(forms.Form):
    kind = forms.ChoiceField(label=gettext_lazy("What to import"), choices=ImportJob.Kind.choices)
    file = forms.FileField(
        label=gettext_lazy("File"),
        help_text=gettext_lazy("A .csv (UTF-8) or .xlsx file; the first row holds the columns."),
        widget=forms.ClearableFileInput(attrs={"accept": ",".join(ALLOWED_EXTENSIONS)}),
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = [
            (k, label)
            for k, label in ImportJob.Kind.choices
            if user.has_perm(IMPORT_PERMISSIONS[k])
        ]

    def clean_file(self):
        return upload_clean(self.cleaned_data["file"])


class _AnyImportPermission(StaffRequiredMixin):
    def has_permission(self) -> bool:
        user = self.request.user
        return user.is_staff and any(user.has_perm(p) for p in IMPORT_PERMISSIONS.values())


class ImportView(_AnyImportPermission, FormView):
    template_name = "dashboard/data/import.html"
    form_class = ImportForm

    def get_form_kwargs(self):
        return super().get_form_kwargs() | {"user": self.request.user}

    def get_context_data(self, **kwargs):
        recent = ImportJob.objects.filter(created_by=self.request.user).order_by("-created_at")
        return super().get_context_data(
            recent_jobs=recent[:10],
            max_mb=settings.IMPORT_MAX_UPLOAD_BYTES // (1024 * 1024),
            **kwargs,
        )

    def form_valid(self, form):
        try:
            job = import_job_create(
                kind=form.cleaned_data["kind"],
                upload=form.cleaned_data["file"],
                actor=self.request.user,
            )
        except ApplicationError as exc:
            form.add_error("file", exc.message)
            return self.form_invalid(form)
        return redirect("dashboard:data-import-job", pk=job.pk)


class _JobMixin(_AnyImportPermission):
    model = ImportJob
    context_object_name = "job"

    def get_object(self, queryset=None):
        job = get_object_or_404(
            ImportJob.objects.select_related("created_by"), pk=self.kwargs["pk"]
        )
        if not self.request.user.has_perm(IMPORT_PERMISSIONS[job.kind]):
            raise Http404
        return job


class ImportJobView(_JobMixin, DetailView):
    template_name = "dashboard/data/import_job.html"


class ImportJobProgressView(_JobMixin, DetailView):
    """The job's state partial the job page polls (htmx, every second while the file is being
    checked or imported); it turns into the preview, the errors or the result."""

    template_name = "dashboard/data/_import_progress.html"


class ImportJobStartView(_JobMixin, View):
    def post(self, request, pk):
        job = self.get_object()
        try:
            import_job_start(job=job, actor=request.user)
        except ApplicationError as exc:
            messages.error(request, exc.message)
        return redirect("dashboard:data-import-job", pk=job.pk)


class CustomerExportView(SourceExportView):
    kind = "customers"


class OrderExportView(SourceExportView):
    kind = "orders"
