"""Staff dashboard forms. They check the shape of the input; the services do the work."""

from django import forms
from django.utils.translation import gettext_lazy as _

from apps.customers.enums import (
    Channel,
    ConsentPurpose,
    InteractionKind,
    Source,
)
from apps.customers.forms import profile_form_class
from apps.customers.selectors import CUSTOMER_ORDERINGS

BLANK = [("", "—")]


class DateInput(forms.DateInput):
    input_type = "date"


class CustomerFilterForm(forms.Form):
    """The customer list's search box, filters and sort order (all optional, GET)."""

    PORTAL_CHOICES = [
        ("", _("Portal: any")),
        ("yes", _("Has a portal account")),
        ("no", _("No portal account")),
    ]

    q = forms.CharField(required=False, max_length=100)
    tag = forms.ChoiceField(required=False)
    store = forms.ChoiceField(required=False)
    source = forms.ChoiceField(required=False, choices=[("", _("Any source")), *Source.choices])
    portal = forms.ChoiceField(required=False, choices=PORTAL_CHOICES)
    segment = forms.ChoiceField(required=False)
    sort = forms.ChoiceField(required=False, choices=[(k, k) for k in CUSTOMER_ORDERINGS])

    def __init__(self, *args, tags=(), stores=(), segments=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["segment"].choices = [
            ("", _("Any segment")),
            *((str(s.pk), s.name) for s in segments),
        ]
        self.fields["tag"].choices = [("", _("Any tag")), *((t.name, t.display) for t in tags)]
        self.fields["store"].choices = [("", _("Any store")), *((s.code, s.name) for s in stores)]

    def filters(self) -> dict[str, str]:
        """Selector arguments from the valid part of the input (bad values are ignored)."""
        data = self.cleaned_data if self.is_bound and self.is_valid() else {}
        return {
            "query": data.get("q", ""),
            "tag": data.get("tag", ""),
            "store": data.get("store", ""),
            "source": data.get("source", ""),
            "portal": data.get("portal", ""),
            "segment": data.get("segment", ""),
            "ordering": data.get("sort") or "-joined",
        }

    @property
    def active_filter_count(self) -> int:
        if not (self.is_bound and self.is_valid()):
            return 0
        keys = ("tag", "store", "source", "portal", "segment")
        return sum(bool(self.cleaned_data.get(k)) for k in keys)


class OrderFilterForm(forms.Form):
    q = forms.CharField(required=False, max_length=64)
    store = forms.ChoiceField(required=False)

    def __init__(self, *args, stores=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["store"].choices = [("", _("Any store")), *((s.code, s.name) for s in stores)]

    def filters(self) -> dict[str, str]:
        data = self.cleaned_data if self.is_bound and self.is_valid() else {}
        return {"query": data.get("q", "").strip(), "store": data.get("store", "")}


# The profile's fields and its one clean come from the customers app (``profile_form_class``).
CustomerForm = profile_form_class(
    "CustomerForm",
    widgets={"birth_date": DateInput(format="%Y-%m-%d")},
)


class CustomerCreateForm(CustomerForm):
    marketing_email = forms.BooleanField(label=_("Agrees to marketing by e-mail"), required=False)
    marketing_sms = forms.BooleanField(label=_("Agrees to marketing by SMS"), required=False)

    def profile(self) -> dict:
        data = dict(self.cleaned_data)
        data.pop("marketing_email")
        data.pop("marketing_sms")
        return data

    def consents(self) -> list[tuple[str, str, bool]]:
        """Only what the customer said yes to; silence is not a withdrawal."""
        out = []
        if self.cleaned_data["marketing_email"]:
            out.append((Channel.EMAIL, ConsentPurpose.MARKETING, True))
        if self.cleaned_data["marketing_sms"]:
            out.append((Channel.SMS, ConsentPurpose.MARKETING, True))
        return out


class InteractionForm(forms.Form):
    kind = forms.ChoiceField(
        label=_("Kind"), choices=InteractionKind.choices, initial=InteractionKind.CALL
    )
    summary = forms.CharField(label=_("Summary"), max_length=200)
    body = forms.CharField(
        label=_("Details"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )


class TagAddForm(forms.Form):
    name = forms.CharField(label=_("Tag"), max_length=50)

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError(_("A tag needs a name."))
        return name


class ConsentForm(forms.Form):
    GRANTED_CHOICES = [("yes", _("Granted")), ("no", _("Withdrawn"))]

    channel = forms.ChoiceField(label=_("Channel"), choices=Channel.choices)
    purpose = forms.ChoiceField(label=_("Purpose"), choices=ConsentPurpose.choices)
    granted = forms.ChoiceField(label=_("Decision"), choices=GRANTED_CHOICES)
    evidence = forms.CharField(
        label=_("Note"),
        max_length=255,
        required=False,
        help_text=_("How the customer told us, e.g. “phone call, asked to stop SMS”."),
    )

    @property
    def is_granted(self) -> bool:
        return self.cleaned_data["granted"] == "yes"
