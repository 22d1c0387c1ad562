"""Forms of the webhooks pages. They check the shape of the input; the integrations services
decide (https, public address, known events) and write."""

from django import forms
from django.utils.translation import gettext_lazy as _

from apps.integrations.catalogue import WEBHOOK_EVENTS
from apps.integrations.enums import DeliveryStatus


class EndpointForm(forms.Form):
    url = forms.URLField(
        label=_("Endpoint URL"),
        max_length=500,
        assume_scheme="https",
        widget=forms.URLInput(attrs={"placeholder": "https://", "autocomplete": "off"}),
        help_text=_("An https:// address of the receiving system, reachable from the internet."),
    )
    description = forms.CharField(
        label=_("Description"),
        max_length=200,
        required=False,
        help_text=_("What receives the events, e.g. “Web shop” or “Data warehouse”."),
    )
    event_types = forms.MultipleChoiceField(
        label=_("Events"),
        choices=list(WEBHOOK_EVENTS.items()),
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": _("Choose at least one event.")},
    )


class DeliveryFilterForm(forms.Form):
    status = forms.ChoiceField(
        label=_("Status"),
        required=False,
        choices=[("", _("All statuses")), *DeliveryStatus.choices],
    )

    def status_value(self) -> str:
        return self.cleaned_data.get("status", "") if self.is_valid() else ""
