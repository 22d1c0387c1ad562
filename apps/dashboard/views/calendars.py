"""Business calendars (/staff/calendars/): read the weekly hours, holidays and make-up days of a
year; work out a deadline; load next year's schedule from its JSON document (file or pasted);
download a calendar as JSON. Loading goes through ``apps.core.calendars`` (checked, audited)."""

import datetime as dt
import json

from django import forms
from django.http import Http404, JsonResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.generic import TemplateView

from apps.core.calendar import add_business_minutes
from apps.core.calendar_rules import DAYS
from apps.core.calendars import calendar_export, calendar_import
from apps.core.exceptions import ApplicationError
from apps.core.models import BusinessCalendar

from .form_page import FormPageView
from .mixins import StaffRequiredMixin

VIEW = "core.view_businesscalendar"
DAY_LABELS = {
    "mon": gettext_lazy("Monday"),
    "tue": gettext_lazy("Tuesday"),
    "wed": gettext_lazy("Wednesday"),
    "thu": gettext_lazy("Thursday"),
    "fri": gettext_lazy("Friday"),
    "sat": gettext_lazy("Saturday"),
    "sun": gettext_lazy("Sunday"),
}
MAX_DOCUMENT_BYTES = 256 * 1024


class CalendarListView(StaffRequiredMixin, TemplateView):
    permission_required = VIEW
    template_name = "dashboard/calendars/list.html"

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            calendars=list(BusinessCalendar.objects.order_by("code")), **kwargs
        )


class DeadlineForm(forms.Form):
    start = forms.DateTimeField(
        label=gettext_lazy("Filed at"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    minutes = forms.IntegerField(
        label=gettext_lazy("Target (business minutes)"), min_value=0, max_value=525_600
    )


class CalendarDetailView(StaffRequiredMixin, TemplateView):
    permission_required = VIEW
    template_name = "dashboard/calendars/detail.html"

    def get_context_data(self, **kwargs):
        calendar = BusinessCalendar.objects.filter(code=self.kwargs["code"]).first()
        if calendar is None:
            raise Http404
        form = DeadlineForm(self.request.GET or None)
        deadline = None
        if form.is_valid():
            start = form.cleaned_data["start"]
            try:
                deadline = add_business_minutes(calendar, start, form.cleaned_data["minutes"])
            except ApplicationError as exc:
                form.add_error(None, exc.message)
        return super().get_context_data(
            calendar=calendar,
            week=[(DAY_LABELS[d], calendar.hours.get(d, [])) for d in DAYS],
            holidays=[dt.date.fromisoformat(d) for d in calendar.holidays],
            workdays=[dt.date.fromisoformat(d) for d in calendar.workdays],
            form=form,
            deadline=deadline,
            may_import=self.request.user.has_perm("core.change_businesscalendar"),
            **kwargs,
        )


class CalendarImportForm(forms.Form):
    file = forms.FileField(label=gettext_lazy("JSON file"), required=False)
    document = forms.CharField(
        label=gettext_lazy("…or paste the JSON"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 10, "class": "font-monospace", "spellcheck": "false"}),
    )

    def clean(self):
        data = super().clean()
        upload, text = data.get("file"), (data.get("document") or "").strip()
        if upload is not None:
            if upload.size > MAX_DOCUMENT_BYTES:
                raise forms.ValidationError(_("The file is larger than 256 KB."))
            raw = upload.read()
            try:
                text = raw.decode("utf-8-sig")
            except UnicodeDecodeError:
                raise forms.ValidationError(_("The file is not UTF-8 text.")) from None
        if not text:
            raise forms.ValidationError(_("Choose a file or paste the calendar's JSON."))
        try:
            data["parsed"] = json.loads(text)
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(
                _("Not JSON: line %(line)s, column %(col)s: %(msg)s")
                % {"line": exc.lineno, "col": exc.colno, "msg": exc.msg}
            ) from None
        return data


class CalendarImportView(FormPageView):
    permission_required = (
        "core.view_businesscalendar",
        "core.add_businesscalendar",
        "core.change_businesscalendar",
    )
    form_class = CalendarImportForm
    title = gettext_lazy("Load a business calendar")
    submit_label = gettext_lazy("Load")
    multipart = True

    def save(self, form):
        self.calendar, created = calendar_import(
            document=form.cleaned_data["parsed"], actor=self.request.user
        )
        self.success_message = (
            _("Calendar %(code)s created.") if created else _("Calendar %(code)s updated.")
        ) % {"code": self.calendar.code}

    def get_success_url(self):
        return reverse("dashboard:calendar-detail", kwargs={"code": self.calendar.code})

    def get_cancel_url(self):
        return reverse("dashboard:calendar-list")


class CalendarExportView(StaffRequiredMixin, TemplateView):
    permission_required = VIEW

    def get(self, request, *args, **kwargs):
        calendar = BusinessCalendar.objects.filter(code=kwargs["code"]).first()
        if calendar is None:
            raise Http404
        response = JsonResponse(
            calendar_export(calendar), json_dumps_params={"ensure_ascii": False, "indent": 2}
        )
        response["Content-Disposition"] = f'attachment; filename="{calendar.code}.json"'
        return response
