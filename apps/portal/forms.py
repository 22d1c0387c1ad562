"""Portal forms: shape and labels only; the services decide."""

import datetime as dt

from django import forms
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _

from apps.accounts.forms import SIGNUP_CONSENTS
from apps.customers.enums import MEMBER_SWITCHABLE_PURPOSES, Channel, ConsentPurpose
from apps.customers.forms import profile_form_class
from apps.loyalty.enums import TxGroup

# The preference centre offers the purposes the customers app lets a member switch.
PREFERENCE_PURPOSES = list(MEMBER_SWITCHABLE_PURPOSES)

# A friend's referral code from /r/<code>/, kept until the visitor enrols.
REFERRAL_SESSION_KEY = "referral_code"


def consent_field_name(channel: str, purpose: str) -> str:
    return f"{channel}__{purpose}"


# What a member may change about themselves; fields and clean from the customers app. Their
# e-mail is their login's, changed at /accounts/email/.
ProfileForm = profile_form_class(
    "ProfileForm",
    [
        "first_name",
        "last_name",
        "phone",
        "birth_date",
        "gender",
        "city",
        "preferred_language",
        "preferred_channel",
    ],
    labels={
        "phone": _("Mobile phone"),
        "birth_date": _("Birthday"),
        "preferred_language": _("Language"),
        "preferred_channel": _("Preferred way to reach you"),
    },
    help_texts={"phone": "", "birth_date": _("We send a small treat on your birthday.")},
    widgets={
        "phone": forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "tel"}),
        "birth_date": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    },
)


class ConsentForm(forms.Form):
    """One switch per (channel, purpose) pair offered in the preference centre."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for channel in Channel.values:
            for purpose in PREFERENCE_PURPOSES:
                self.fields[consent_field_name(channel, purpose)] = forms.BooleanField(
                    required=False,
                    label=f"{Channel(channel).label} · {ConsentPurpose(purpose).label}",
                )

    def choices(self) -> dict[tuple[str, str], bool]:
        return {
            (channel, str(purpose)): bool(
                self.cleaned_data.get(consent_field_name(channel, purpose))
            )
            for channel in Channel.values
            for purpose in PREFERENCE_PURPOSES
        }


class EnrolForm(forms.Form):
    first_name = forms.CharField(label=_("First name"), max_length=80, required=False)
    last_name = forms.CharField(label=_("Last name"), max_length=80, required=False)
    consent_email_marketing = forms.BooleanField(
        label=_("E-mail me offers and news"), required=False
    )
    consent_sms_marketing = forms.BooleanField(label=_("Text me offers"), required=False)
    consent_email_surveys = forms.BooleanField(
        label=_("Invite me to short surveys by e-mail"), required=False
    )
    # Loose shape check only: referral_register normalises the code and decides.
    referral_code = forms.CharField(
        label=_("Referral code"),
        max_length=20,
        required=False,
        widget=forms.TextInput(attrs={"autocapitalize": "characters", "autocomplete": "off"}),
        help_text=_("Invited by a friend? Their code goes here."),
    )

    def consents(self) -> list[tuple[str, str, bool]]:
        return [(ch, p, bool(self.cleaned_data.get(name))) for name, ch, p in SIGNUP_CONSENTS]


class RedeemForm(forms.Form):
    """The confirmation of a redemption. ``key`` is minted when the page is shown, so a
    double-click or a resubmitted form redeems once. A gift or an experience (``stores`` given:
    where it can be collected) also asks how it reaches the member: a store to collect it from,
    or an address to deliver it to."""

    PICKUP, DELIVERY = "pickup", "delivery"

    key = forms.UUIDField(widget=forms.HiddenInput)

    def __init__(self, *args, stores=None, **kwargs):
        super().__init__(*args, **kwargs)
        if stores is None:
            return
        self.fields["handover"] = forms.ChoiceField(
            label=_("How do you want to get it?"),
            choices=[(self.PICKUP, _("Collect it at a store")), (self.DELIVERY, _("Deliver it"))],
            widget=forms.RadioSelect,
            initial=self.PICKUP,
        )
        self.fields["pickup_store"] = forms.ModelChoiceField(
            label=_("Store"), queryset=stores, required=False, empty_label=_("Choose a store")
        )
        self.fields["delivery_address"] = forms.CharField(
            label=_("Delivery address"),
            max_length=500,
            required=False,
            widget=forms.Textarea(attrs={"rows": 3, "autocomplete": "street-address"}),
            help_text=_("Name, street, city and phone number for the courier."),
        )

    def clean(self):
        data = super().clean()
        handover = data.get("handover")
        if handover == self.PICKUP and not data.get("pickup_store"):
            self.add_error("pickup_store", _("Choose the store where you will collect it."))
        elif handover == self.DELIVERY and not data.get("delivery_address", "").strip():
            self.add_error("delivery_address", _("Enter the address to deliver it to."))
        return data

    def handover_choice(self) -> dict:
        """The service's ``pickup_store`` / ``delivery_address`` for the chosen way."""
        data = self.cleaned_data
        if data.get("handover") == self.PICKUP:
            return {"pickup_store": data["pickup_store"]}
        if data.get("handover") == self.DELIVERY:
            return {"delivery_address": data["delivery_address"]}
        return {}


class PointsHistoryForm(forms.Form):
    """Filters of the points history and its export: what happened, between which days (both
    included) and, from a row's order link, one order. Anything invalid is a field error."""

    EARLIEST = dt.date(2000, 1, 1)
    LATEST = dt.date(2100, 12, 31)

    kind = forms.ChoiceField(
        label=_("Show"),
        required=False,
        choices=[("", _("Everything")), *TxGroup.choices],
    )
    date_from = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    order = forms.IntegerField(
        required=False, min_value=1, max_value=2**63 - 1, widget=forms.HiddenInput
    )

    def _check_day(self, name: str) -> dt.date | None:
        day = self.cleaned_data.get(name)
        if day is not None and not self.EARLIEST <= day <= self.LATEST:
            raise forms.ValidationError(
                _("Enter a date between %(first)s and %(last)s.")
                % {
                    "first": date_format(self.EARLIEST, "DATE_FORMAT"),
                    "last": date_format(self.LATEST, "DATE_FORMAT"),
                }
            )
        return day

    def clean_date_from(self) -> dt.date | None:
        return self._check_day("date_from")

    def clean_date_to(self) -> dt.date | None:
        return self._check_day("date_to")

    def clean(self):
        data = super().clean()
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", _("The end date is before the start date."))
        if self.errors.get("order"):
            # The order comes from a link, not from a field the member sees.
            self.add_error(None, _("This order link is not valid."))
        return data

    def filters(self) -> dict:
        """Keyword arguments of ``transaction_list``; call after ``is_valid()`` returned True
        (or on an unbound form, for everything)."""
        data = self.cleaned_data if self.is_bound else {}
        return {
            "group": data.get("kind") or "",
            "since": data.get("date_from"),
            "until": data.get("date_to"),
            "order_id": data.get("order"),
        }

    @property
    def filtered(self) -> bool:
        return self.is_bound and any(self.data.get(name) for name in self.fields)


class PhoneForm(forms.Form):
    phone = forms.CharField(
        label=_("Mobile phone on your membership"),
        max_length=32,
        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "tel"}),
    )


class PhoneCodeForm(forms.Form):
    code = forms.RegexField(
        label=_("Code from the text message"),
        regex=r"^\s*\d{6}\s*$",
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code"}),
    )
    member_number = forms.RegexField(
        label=_("Member number (on your card)"),
        regex=r"^\s*\d{10}\s*$",
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "numeric"}),
        help_text=_("Needed only if several memberships share this phone number."),
    )


class EraseForm(forms.Form):
    confirm = forms.BooleanField(
        label=_("I understand that my account and personal data will be deleted for good."),
        required=True,
    )
