"""Scheduled reports (/staff/kpi/reports/): the subscriptions, a form to add or change one, delete,
and "send now to me" (the latest period, to the reader alone). The checks and the writes are
``apps.analytics.services.reports``."""

from django.conf import settings
from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.functional import cached_property
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View
from django.views.generic import TemplateView

from apps.accounts.roles import ROLE_LABELS
from apps.analytics.enums import DeliveryStatus, ReportFrequency, ReportKind, Weekday
from apps.analytics.selectors_reports import report_subscription_get, report_subscription_list
from apps.analytics.services.reports import (
    report_send_test,
    report_subscription_create,
    report_subscription_delete,
    report_subscription_update,
)
from apps.core.exceptions import ApplicationError

from ..forms_reports import ReportSubscriptionForm
from .form_page import FormPageView
from .mixins import StaffRequiredMixin

VIEW = "analytics.view_reportsubscription"
# Who may read each report's figures (to be sent it now, or to subscribe people to it).
REPORT_PERMISSIONS = {
    ReportKind.KPI: "analytics.view_kpisnapshot",
    ReportKind.AT_RISK: "analytics.view_atriskentry",
    ReportKind.COMPLAINTS: "complaints.view_complaint_reports",
}
STATUS_STYLE = {
    DeliveryStatus.SENT: "success",
    DeliveryStatus.SKIPPED: "secondary",
    DeliveryStatus.SENDING: "info",
    DeliveryStatus.PARTIAL: "warning",
    DeliveryStatus.FAILED: "danger",
}


def schedule_text(subscription) -> str:
    """ "Mondays at 08:00" / "Monthly on day 1 at 08:00", in the reader's language."""
    time = f"{subscription.hour:02d}:00"
    if subscription.frequency == ReportFrequency.WEEKLY:
        return _("Every %(weekday)s at %(time)s") % {
            "weekday": Weekday(subscription.weekday).label,
            "time": time,
        }
    return _("Monthly on day %(day)s at %(time)s") % {
        "day": subscription.day_of_month,
        "time": time,
    }


def subscription_or_404(pk: int):
    subscription = report_subscription_get(pk=pk)
    if subscription is None:
        raise Http404
    return subscription


class ReportSubscriptionListView(StaffRequiredMixin, TemplateView):
    permission_required = VIEW
    template_name = "dashboard/kpi/reports.html"

    def get_context_data(self, **kwargs):
        statuses = dict(DeliveryStatus.choices)
        rows = [
            {
                "subscription": s,
                "schedule": schedule_text(s),
                "status": statuses.get(s.latest_status, ""),
                "status_style": STATUS_STYLE.get(s.latest_status, "secondary"),
                "can_send": self.request.user.has_perm(REPORT_PERMISSIONS[s.report]),
                "role": str(ROLE_LABELS.get(s.role.name, s.role.name)) if s.role else "",
            }
            for s in report_subscription_list()
        ]
        return super().get_context_data(rows=rows, time_zone=settings.TIME_ZONE, **kwargs)


class _SubscriptionFormView(FormPageView):
    template_name = "dashboard/kpi/report_form.html"
    form_class = ReportSubscriptionForm

    def get_success_url(self) -> str:
        return reverse("dashboard:report-subscription-list")

    def _check_report_permission(self, form) -> None:
        report = form.cleaned_data["report"]
        if not self.request.user.has_perm(REPORT_PERMISSIONS[ReportKind(report)]):
            raise ApplicationError(
                _("You may not read this report, so you cannot subscribe anyone to it."),
                field="report",
            )


class ReportSubscriptionCreateView(_SubscriptionFormView):
    permission_required = "analytics.add_reportsubscription"
    title = gettext_lazy("New report subscription")
    submit_label = gettext_lazy("Subscribe")
    success_message = gettext_lazy("Subscription saved.")

    def save(self, form) -> None:
        self._check_report_permission(form)
        report_subscription_create(actor=self.request.user, **form.cleaned_data)


class ReportSubscriptionUpdateView(_SubscriptionFormView):
    permission_required = "analytics.change_reportsubscription"
    title = gettext_lazy("Change report subscription")
    success_message = gettext_lazy("Subscription saved.")

    @cached_property
    def subscription(self):
        return subscription_or_404(self.kwargs["pk"])

    def get_form(self, data=None, files=None):
        return self.form_class(data, initial=ReportSubscriptionForm.initial_from(self.subscription))

    def save(self, form) -> None:
        self._check_report_permission(form)
        report_subscription_update(
            subscription=self.subscription, actor=self.request.user, **form.cleaned_data
        )


class ReportSubscriptionDeleteView(StaffRequiredMixin, TemplateView):
    permission_required = "analytics.delete_reportsubscription"
    template_name = "dashboard/kpi/report_delete.html"

    def get_context_data(self, **kwargs):
        subscription = subscription_or_404(self.kwargs["pk"])
        return super().get_context_data(
            subscription=subscription, schedule=schedule_text(subscription), **kwargs
        )

    def post(self, request, pk):
        subscription = subscription_or_404(pk)
        report_subscription_delete(subscription=subscription, actor=request.user)
        messages.success(request, _("Subscription deleted."))
        return redirect("dashboard:report-subscription-list")


class ReportSubscriptionSendTestView(StaffRequiredMixin, View):
    """The latest period to the reader alone, now; the schedule is unchanged."""

    permission_required = VIEW

    def post(self, request, pk):
        subscription = subscription_or_404(pk)
        if not request.user.has_perm(REPORT_PERMISSIONS[subscription.report]):
            messages.error(request, _("You may not read this report."))
            return redirect("dashboard:report-subscription-list")
        try:
            report_send_test(subscription=subscription, user=request.user)
        except ApplicationError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("Sent to %(address)s.") % {"address": request.user.email})
        return redirect("dashboard:report-subscription-list")
