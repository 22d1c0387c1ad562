"""Forms of the Administrators' staff users page. They check the shape of the input; the
accounts services decide (taken addresses, the last Administrator) and write."""

from django import forms
from django.utils.translation import gettext_lazy as _

from apps.accounts.roles import ROLE_LABELS, ROLES

ROLE_CHOICES = [(role, ROLE_LABELS[role]) for role in ROLES]


class StaffInviteForm(forms.Form):
    email = forms.EmailField(
        label=_("E-mail address"),
        max_length=254,
        widget=forms.EmailInput(attrs={"class": "form-control", "autocomplete": "off"}),
        help_text=_("The invitation with a link to choose a password goes here."),
    )
    full_name = forms.CharField(
        label=_("Full name"),
        max_length=150,
        required=False,
        widget=forms.TextInput(attrs={"class": "form-control"}),
    )
    role = forms.ChoiceField(
        label=_("Role"), choices=ROLE_CHOICES, widget=forms.Select(attrs={"class": "form-select"})
    )


class StaffRoleForm(forms.Form):
    role = forms.ChoiceField(
        label=_("Role"), choices=ROLE_CHOICES, widget=forms.Select(attrs={"class": "form-select"})
    )


class StaffFilterForm(forms.Form):
    q = forms.CharField(required=False, max_length=100)
    role = forms.ChoiceField(required=False, choices=[("", _("All roles")), *ROLE_CHOICES])
    active = forms.ChoiceField(
        required=False,
        choices=[("", _("Active and deactivated")), ("yes", _("Active")), ("no", _("Deactivated"))],
    )

    def filters(self) -> dict:
        if not self.is_valid():
            return {"query": "", "role": "", "active": ""}
        data = self.cleaned_data
        return {"query": data["q"].strip(), "role": data["role"], "active": data["active"]}
