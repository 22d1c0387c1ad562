"""The portal sign-up form: allauth's e-mail + password form plus names and the contact
permissions the member chooses. Plug in with ``ACCOUNT_FORMS = {"signup":
"apps.accounts.forms.SignupForm"}``. The form only validates; the adapter keeps the choices
until the membership is created (after e-mail verification, see customers.services.membership).
"""

from allauth.account.forms import SignupForm as AllauthSignupForm
from django import forms
from django.utils.translation import gettext_lazy as _

# (form field, channel, purpose): consent choices offered at sign-up. Strings, not imports from
# customers: accounts sits below customers in the layers.
SIGNUP_CONSENTS = [
    ("consent_email_marketing", "email", "marketing"),
    ("consent_sms_marketing", "sms", "marketing"),
    ("consent_email_surveys", "email", "surveys"),
]
SIGNUP_SESSION_KEY = "portal_signup"


class SignupForm(AllauthSignupForm):
    first_name = forms.CharField(label=_("First name"), max_length=80, required=False)
    last_name = forms.CharField(label=_("Last name"), max_length=80, required=False)
    consent_email_marketing = forms.BooleanField(
        label=_("E-mail me offers and news"), required=False
    )
    consent_sms_marketing = forms.BooleanField(label=_("Text me offers"), required=False)
    consent_email_surveys = forms.BooleanField(
        label=_("Invite me to short surveys by e-mail"), required=False
    )

    field_order = [
        "first_name",
        "last_name",
        "email",
        "password1",
        "password2",
        "consent_email_marketing",
        "consent_sms_marketing",
        "consent_email_surveys",
    ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["first_name"].widget.attrs["autocomplete"] = "given-name"
        self.fields["last_name"].widget.attrs["autocomplete"] = "family-name"

    def signup_choices(self) -> dict:
        data = self.cleaned_data
        return {
            "first_name": data.get("first_name", "").strip(),
            "last_name": data.get("last_name", "").strip(),
            "consents": [
                [ch, purpose, bool(data.get(name))] for name, ch, purpose in SIGNUP_CONSENTS
            ],
        }
