"""The report subscription form (/staff/kpi/reports/): shape only; the schedule, the recipients
and the addresses are checked by ``apps.analytics.services.reports``, whose refusals show on the
field they name."""

from django import forms
from django.conf import settings
from django.contrib.auth.models import Group
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from apps.accounts.roles import ROLE_LABELS, ROLES
from apps.analytics.enums import ReportFrequency, ReportKind, Weekday

from .form_layout import LayoutMixin

HOURS = [(h, f"{h:02d}:00") for h in range(24)]


class RoleChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        return str(ROLE_LABELS.get(obj.name, obj.name))


class ReportSubscriptionForm(LayoutMixin, forms.Form):
    report = forms.ChoiceField(label=_("Report"), choices=ReportKind.choices)
    frequency = forms.ChoiceField(
        label=_("Frequency"), choices=ReportFrequency.choices, initial=ReportFrequency.WEEKLY
    )
    weekday = forms.TypedChoiceField(
        label=_("Day of the week"),
        choices=Weekday.choices,
        coerce=int,
        required=False,
        empty_value=None,
        initial=Weekday.MONDAY,
    )
    day_of_month = forms.IntegerField(
        label=_("Day of the month"),
        min_value=1,
        max_value=28,
        required=False,
        initial=1,
        help_text=_("1 to 28, so that every month has it."),
    )
    hour = forms.TypedChoiceField(
        label=_("Time"),
        choices=HOURS,
        coerce=int,
        initial=8,
    )
    role = RoleChoiceField(
        label=_("Send to a role"),
        queryset=Group.objects.filter(name__in=ROLES).order_by("name"),
        required=False,
        help_text=_("Everyone active in the role, each in their own language."),
    )
    addresses = forms.CharField(
        label=_("Send to addresses"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("One per line or separated by commas."),
    )
    language = forms.ChoiceField(
        label=_("Language for these addresses"),
        choices=settings.LANGUAGES,
        initial=settings.LANGUAGE_CODE,
    )
    active = forms.BooleanField(label=_("Active"), required=False, initial=True)

    sections = [
        (_("Report"), None, ["report", "frequency", "weekday", "day_of_month", "hour"]),
        (
            _("Recipients"),
            _("A role, addresses, or both. Each recipient gets one e-mail with the workbook."),
            ["role", "addresses", "language"],
        ),
        (None, None, ["active"]),
    ]
    depends_on = (
        "frequency",
        {
            "weekday": frozenset({ReportFrequency.WEEKLY}),
            "day_of_month": frozenset({ReportFrequency.MONTHLY}),
        },
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Worded per request (a lazy string formatted in the class body would be frozen).
        self.fields["hour"].help_text = gettext("In the business time zone (%(zone)s).") % {
            "zone": settings.TIME_ZONE
        }

    @classmethod
    def initial_from(cls, subscription) -> dict:
        return {
            "report": subscription.report,
            "frequency": subscription.frequency,
            "weekday": subscription.weekday,
            "day_of_month": subscription.day_of_month,
            "hour": subscription.hour,
            "role": subscription.role_id,
            "addresses": "\n".join(subscription.addresses or []),
            "language": subscription.language,
            "active": subscription.active,
        }
