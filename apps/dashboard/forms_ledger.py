"""The points ledger export's filters (on the ledger page): which kind of row, which days, which
member. The form checks their shape; ``apps.loyalty.selectors.ledger_list`` applies them."""

from django import forms
from django.utils.translation import gettext_lazy as _

from apps.loyalty.enums import TxKind

LEDGER_KEYS = ("kind", "date_from", "date_to", "member")


class LedgerFilterForm(forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), required=False)
    date_from = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    member = forms.CharField(label=_("Member number"), required=False, max_length=32)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = [("", _("All kinds")), *TxKind.choices]

    def clean(self):
        data = super().clean()
        since, until = data.get("date_from"), data.get("date_to")
        if since and until and until < since:
            raise forms.ValidationError(_("The end date is before the start date."))
        return data

    def filters(self) -> dict:
        """The cleaned filters as ``ledger_list`` and ``ledger_export`` take them."""
        data = self.cleaned_data
        return {
            "kind": data.get("kind") or "",
            "since": data.get("date_from"),
            "until": data.get("date_to"),
            "member": (data.get("member") or "").strip(),
        }
