"""The portal sign-up forms: allauth's e-mail + password form, and allauth's phone sign-up
(mobile number, verified by an SMS code, no password), each plus names and the contact
permissions the member chooses. Plug in with ``ACCOUNT_FORMS = {"signup":
"apps.accounts.forms.SignupForm"}``; the phone form is served by ``views.PhoneSignupView``. The
forms only validate; the adapter keeps the choices until the membership is created (after the
e-mail or the phone is verified, see customers.services.membership).
"""

from allauth.account.fields import PhoneField
from allauth.account.forms import SignupForm as AllauthSignupForm
from django import forms
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from apps.core.exceptions import ValidationFailed
from apps.core.phones import phone_normalize

# (form field, channel, purpose): consent choices offered at sign-up. Strings, not imports from
# customers: accounts sits below customers in the layers.
SIGNUP_CONSENTS = [
    ("consent_email_marketing", "email", "marketing"),
    ("consent_sms_marketing", "sms", "marketing"),
    ("consent_email_surveys", "email", "surveys"),
]
SIGNUP_SESSION_KEY = "portal_signup"


class PhoneNumberField(PhoneField):
    """allauth's phone field, reading numbers the way the rest of the project does: a mobile
    number as members write it (``138 1234 5678``, ``+86 138-1234-5678``) becomes E.164, and
    a number that is not one is refused with the project's message. allauth uses this field
    wherever it asks for a phone (sign-in, sign-in by code, sign-up, change of number)."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("validators", [])  # phone_normalize is the check, not allauth's regex
        kwargs.setdefault("label", _("Mobile number"))
        super().__init__(*args, **kwargs)
        self.widget.attrs.update(placeholder=_("Mobile number"), inputmode="tel")

    def clean(self, value):
        try:
            value = phone_normalize(value or "")
        except ValidationFailed as exc:
            raise forms.ValidationError(exc.message, code="invalid_phone") from exc
        return super().clean(value)


class SignupForm(AllauthSignupForm):
    asks_phone = False

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
        if not self.asks_phone:
            # "phone" is an optional sign-up field in the settings so that allauth serves phone
            # verification and change; e-mail sign-up stays e-mail + password, as it always was.
            self.fields.pop("phone", None)
        self.fields["first_name"].widget.attrs["autocomplete"] = "given-name"
        self.fields["last_name"].widget.attrs["autocomplete"] = "family-name"
        if (get_language() or "").startswith("zh"):
            # 姓 then 名: a Chinese reader gives the family name first.
            order = list(self.fields)
            first, last = order.index("first_name"), order.index("last_name")
            order[first], order[last] = order[last], order[first]
            self.order_fields(order)

    def signup_choices(self) -> dict:
        data = self.cleaned_data
        return {
            "first_name": data.get("first_name", "").strip(),
            "last_name": data.get("last_name", "").strip(),
            "consents": [
                [ch, purpose, bool(data.get(name))]
                for name, ch, purpose in SIGNUP_CONSENTS
                if name in self.fields
            ],
        }


class PhoneSignupForm(SignupForm):
    """Sign-up with a mobile number only: allauth's sign-up form built for the fields
    ``phone*`` (no e-mail, no password). allauth then sends an SMS code to the number and signs
    the member in once it is typed (its phone verification stage); they sign in later with a
    new code, and may add an e-mail address or a password in their account settings."""

    asks_phone = True
    field_order = [
        "first_name",
        "last_name",
        "phone",
        "consent_sms_marketing",
    ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Without an e-mail address there is nobody to e-mail.
        for name in ("consent_email_marketing", "consent_email_surveys"):
            self.fields.pop(name)
        self.fields["phone"].label = _("Mobile number")  # allauth labels it "Phone"
        self.fields["phone"].help_text = _("We text you a code to check that the number is yours.")

    def _get_signup_fields(self, kwargs) -> dict:
        # allauth builds its sign-up form from these (ACCOUNT_SIGNUP_FIELDS for e-mail sign-up).
        return {"phone": {"required": True}}

    def signup_choices(self) -> dict:
        choices = super().signup_choices()
        # Keep the session's shape: every sign-up consent, those not offered as not granted.
        offered = {(ch, p) for ch, p, _granted in choices["consents"]}
        choices["consents"] += [
            [ch, p, False] for _name, ch, p in SIGNUP_CONSENTS if (ch, p) not in offered
        ]
        return choices
