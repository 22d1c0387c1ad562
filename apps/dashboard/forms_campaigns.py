"""Forms of the campaign pages: shapes only. ``apps.campaigns.services.lifecycle.campaign_save``
checks the settings and renders every variant in the sandbox before it writes anything; its
refusals come back to these forms on the field they name."""

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.analytics.selectors import segment_list
from apps.campaigns.enums import CampaignKind, OfferKind, Trigger
from apps.campaigns.models import Campaign, Variant
from apps.campaigns.services.lifecycle import (
    CONTENT_FIELDS,
    MAX_VARIANTS,
    NAME_FIELDS,
    SETTINGS_FIELDS,
)
from apps.core.content import AUTONYMS
from apps.core.formatting import currency_symbol
from apps.customers.enums import Channel
from apps.loyalty.enums import CouponKind

from .forms_loyalty import DATETIME, BootstrapMixin

# The offer fields each kind of offer uses (the others are hidden and sent as their default).
OFFER_FIELDS = {
    "coupon_kind": frozenset({OfferKind.COUPON.value}),
    "coupon_value": frozenset({OfferKind.COUPON.value}),
    "coupon_min_spend": frozenset({OfferKind.COUPON.value}),
    "coupon_valid_days": frozenset({OfferKind.COUPON.value}),
    "bonus_points": frozenset({OfferKind.BONUS_POINTS.value}),
    "multiplier": frozenset({OfferKind.MULTIPLIER.value}),
    "multiplier_days": frozenset({OfferKind.MULTIPLIER.value}),
}
BROADCAST_ONLY = ("segment", "scheduled_at")
JOURNEY_ONLY = ("trigger", "trigger_days", "delay_hours")
MONEY_FIELDS = ("coupon_min_spend", "cost_per_message", "budget")


class SegmentChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        return str(obj.name)


class CampaignForm(BootstrapMixin, forms.ModelForm):
    """A campaign's settings, for one kind (broadcast or journey: the kind is fixed when the
    campaign is created)."""

    depends_on = ("offer_kind", OFFER_FIELDS)

    channels = forms.MultipleChoiceField(
        label=_("Channels"),
        choices=Channel.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text=_(
            "Each member gets one message: on their preferred channel when it is ticked, else "
            "the first ticked channel they agreed to and have an address for."
        ),
    )
    coupon_kind = forms.ChoiceField(
        label=_("Coupon kind"),
        choices=[("", "—"), *CouponKind.choices],
        required=False,
    )
    segment = SegmentChoiceField(label=_("Segment"), queryset=None, required=False)

    class Meta:
        model = Campaign
        fields = [
            *NAME_FIELDS,
            "segment",
            "scheduled_at",
            "trigger",
            "trigger_days",
            "delay_hours",
            "purpose",
            "channels",
            "offer_kind",
            "coupon_kind",
            "coupon_value",
            "coupon_min_spend",
            "coupon_valid_days",
            "bonus_points",
            "multiplier",
            "multiplier_days",
            "holdout_percent",
            "conversion_days",
            "cost_per_message",
            "budget",
        ]
        widgets = {"scheduled_at": DATETIME}
        help_texts = {
            "purpose": _(
                "Marketing needs the member's “yes” on the channel; a service message (about the "
                "member's own account) goes unless they said no."
            ),
            "coupon_value": _("Money off, or the percentage for a percent-off coupon."),
            "multiplier": _("Points earned on orders are multiplied by this (above 1, up to 10)."),
            "delay_hours": _("Wait this long after the trigger before sending (0 = at once)."),
        }

    def __init__(self, *args, kind: str, default_window: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.kind = kind
        drop = JOURNEY_ONLY if kind == CampaignKind.BROADCAST else BROADCAST_ONLY[1:]
        for name in drop:
            del self.fields[name]
        self.fields["segment"].queryset = segment_list()
        for name in NAME_FIELDS:
            self.fields[name].required = False
        self.fields["channels"].widget.attrs["class"] = "tick-list"
        symbol = currency_symbol().strip()
        for name in MONEY_FIELDS:
            self.fields[name].label = f"{self.fields[name].label} ({symbol})"
        self.fields["conversion_days"].help_text = _(
            "An order within this many days of the message counts as a conversion. Empty: the "
            "default, %(n)s days."
        ) % {"n": default_window}
        self.fields["budget"].help_text = _(
            "Messages (and bonus points) stop when it is spent. Empty: no limit."
        )
        if kind == CampaignKind.BROADCAST:
            self.fields["segment"].empty_label = _("Choose a segment")
            self.fields["segment"].help_text = _(
                "Frozen when the send starts: later changes to the segment do not change who "
                "receives it."
            )
            self.fields["scheduled_at"].help_text = _(
                "In the business time zone (%(zone)s). Empty: start it by hand."
            ) % {"zone": timezone.get_current_timezone_name()}
        else:
            self.fields["segment"].empty_label = _("Every member")
            self.fields["segment"].label = _("Only members of this segment")
            self.fields["segment"].help_text = _("Checked when the trigger fires.")
            self.fields["trigger"].choices = [("", "—"), *Trigger.choices]
        self.sections = [
            (None, None, ["name"]),
            (
                _("Audience") if kind == CampaignKind.BROADCAST else _("Trigger"),
                None,
                list(BROADCAST_ONLY)
                if kind == CampaignKind.BROADCAST
                else [*JOURNEY_ONLY, "segment"],
            ),
            (_("Delivery"), None, ["purpose", "channels"]),
            (
                _("Offer"),
                _("Issued with the message, to the members who receive it."),
                [
                    "offer_kind",
                    *OFFER_FIELDS,
                ],
            ),
            (
                _("Measurement and costs"),
                _(
                    "The holdout receives nothing: comparing it with the members who were sent "
                    "the message measures what the campaign changed."
                ),
                ["holdout_percent", "conversion_days", "cost_per_message", "budget"],
            ),
        ]

    def _items(self, names: list[str]) -> list[dict]:
        items = super()._items(names)
        for item in items:
            if item["fields"][0].name == "trigger_days":  # win-back only
                item["show_when"] = f"trigger:{Trigger.INACTIVE.value}"
        return items

    def clean_scheduled_at(self):
        value = self.cleaned_data.get("scheduled_at")
        if value is not None and value <= timezone.now():
            raise forms.ValidationError(_("Choose a time in the future."))
        return value

    def clean(self):
        data = super().clean()
        if self.kind == CampaignKind.TRIGGERED and data.get("trigger") != Trigger.INACTIVE:
            data["trigger_days"] = None  # only win-back counts days
        return data

    def _post_clean(self):
        # The service decides; the model's own validation would complain about the plain
        # columns modeltranslation mirrors.
        pass

    def names(self) -> dict[str, str]:
        return {name: self.cleaned_data.get(name) or "" for name in NAME_FIELDS}

    def settings(self) -> dict:
        data = {k: self.cleaned_data[k] for k in SETTINGS_FIELDS if k in self.cleaned_data}
        data["kind"] = self.kind
        return data


class VariantForm(BootstrapMixin, forms.ModelForm):
    """One variant: label, weight and the content per language (templates checked by the
    service)."""

    class Meta:
        model = Variant
        fields = ["label", "weight", *CONTENT_FIELDS]
        widgets = {
            **{
                f"body_{lang}": forms.Textarea(attrs={"rows": 5, "spellcheck": "false"})
                for lang in ("en", "zh_hans")
            },
            **{
                f"sms_body_{lang}": forms.Textarea(attrs={"rows": 2, "spellcheck": "false"})
                for lang in ("en", "zh_hans")
            },
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["label"].widget.attrs.update({"maxlength": 20, "class": "form-control"})
        for name in CONTENT_FIELDS:
            self.fields[name].widget.attrs["data-template-field"] = ""

    def _post_clean(self):
        pass


class BaseVariantFormSet(forms.BaseFormSet):
    def variants(self) -> list[dict]:
        """The variants to save, in order (removed and untouched blank ones left out)."""
        return [
            {k: v for k, v in form.cleaned_data.items() if k != "DELETE"}
            for form in self.forms
            if form.cleaned_data and not self._should_delete_form(form)
        ]


VariantFormSet = forms.formset_factory(
    VariantForm,
    formset=BaseVariantFormSet,
    extra=0,
    min_num=1,
    max_num=MAX_VARIANTS,
    validate_min=True,
    validate_max=True,
    can_delete=True,
)


def variant_initial(campaign: Campaign) -> list[dict]:
    return [
        {"label": v.label, "weight": v.weight, **{k: getattr(v, k) for k in CONTENT_FIELDS}}
        for v in campaign.variants.all()
    ]


class PreviewForm(forms.Form):
    """Which content to render, and for whom (a member number; empty: the sample member)."""

    member_number = forms.CharField(label=_("Member number"), max_length=32, required=False)
    variant = forms.IntegerField(label=_("Variant"), required=False)
    channel = forms.ChoiceField(label=_("Channel"), choices=Channel.choices)
    lang = forms.ChoiceField(
        label=_("Language"),
        choices=[("", _("The member's")), *AUTONYMS.items()],
        required=False,
    )

    def clean_member_number(self):
        return (self.cleaned_data.get("member_number") or "").strip()
