"""Forms of the segment builder and the at-risk list: shapes only; the analytics services
check the rules and write."""

import json

from django import forms
from django.utils.translation import gettext_lazy as _

from apps.accounts.models import User
from apps.analytics.models import Segment
from apps.analytics.rules.compiler import EMPTY

from .forms_loyalty import BootstrapMixin

MAX_RULES_BYTES = 20_000


class RulesField(forms.JSONField):
    """The condition tree as JSON text; the size is capped before parsing."""

    def to_python(self, value):
        if isinstance(value, str) and len(value.encode()) > MAX_RULES_BYTES:
            raise forms.ValidationError(_("The rules are too long."))
        return super().to_python(value)


class SegmentForm(BootstrapMixin, forms.ModelForm):
    # The rules render apart, under the builder (the template shows the first section only).
    sections = [(None, None, ["name", "description"]), (None, None, ["rules"])]
    rules = RulesField(
        label=_("Rules (JSON)"),
        initial=EMPTY,
        widget=forms.Textarea(
            attrs={"rows": 6, "class": "form-control mono", "spellcheck": "false"}
        ),
        help_text=_("Built with the editor above; the JSON is what the API takes."),
    )

    class Meta:
        model = Segment
        fields = ["name_en", "name_zh_hans", "description_en", "description_zh_hans"]
        widgets = {
            "description_en": forms.Textarea(attrs={"rows": 2}),
            "description_zh_hans": forms.Textarea(attrs={"rows": 2}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("name_en", "name_zh_hans"):
            self.fields[name].required = False
        if self.instance.pk and not self.is_bound:
            self.initial["rules"] = self.instance.rules

    def rules_json(self) -> str:
        value = self["rules"].value()
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                return json.dumps(EMPTY)
        return json.dumps(value if isinstance(value, dict) else EMPTY, ensure_ascii=False)


class FreezeForm(BootstrapMixin, forms.Form):
    note = forms.CharField(label=_("Note"), max_length=200, required=False)


class StaffChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        return obj.display_name


class AssignForm(forms.Form):
    assignee = StaffChoiceField(
        label=_("Assign to"),
        queryset=User.objects.none(),
        widget=forms.Select(attrs={"class": "form-select form-select-sm"}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = (
            User.objects.filter(
                is_active=True, is_staff=True, groups__permissions__codename="work_ticket"
            )
            .distinct()
            .order_by("full_name", "email")
        )
