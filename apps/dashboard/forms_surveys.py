"""Forms of the staff survey builder: they check the shape of the input; the survey services
(``apps.surveys.services.builder``) decide and write."""

import datetime as dt

from django import forms
from django.utils.translation import gettext_lazy as _

from apps.core.content import content_label, content_languages, localized_fields
from apps.customers.enums import OrderChannel
from apps.customers.models import Store, Tag
from apps.surveys.enums import CHOICE_TYPES, InvitationChannel, Measure, QuestionType
from apps.surveys.models import Choice, Question, Survey
from apps.surveys.services.builder import SURVEY_FIELDS

from .forms_loyalty import BootstrapMixin

CHOICE_LABELS = localized_fields(Choice, ["label"])


class SurveyForm(BootstrapMixin, forms.ModelForm):
    sections = [
        (None, None, ["title", "intro", "thank_you"]),
        (
            _("Kind and display"),
            None,
            ["kind", "display", "anonymous", "reward_points"],
        ),
        (
            _("When to ask"),
            _("By hand, or a number of days after a purchase or a resolved ticket."),
            ["trigger", "delay_days", "sample_percent", "trigger_stores", "trigger_channels"],
        ),
        (_("Invitations"), None, ["invite_channels", "valid_days"]),
        (
            _("Closed loop"),
            _("Detractors' answers become complaint tickets for the service team."),
            ["follow_up_detractors"],
        ),
    ]
    trigger_channels = forms.MultipleChoiceField(
        label=_("Only purchases through these channels"),
        choices=OrderChannel.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("None ticked = every channel."),
    )
    invite_channels = forms.MultipleChoiceField(
        label=_("Invite by"),
        choices=[
            (InvitationChannel.EMAIL.value, InvitationChannel.EMAIL.label),
            (InvitationChannel.PORTAL.value, InvitationChannel.PORTAL.label),
        ],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Tried in order: the first channel the member has agreed to is used."),
    )
    trigger_stores = forms.ModelMultipleChoiceField(
        label=_("Only purchases in these stores"),
        queryset=Store.objects.order_by("name"),
        required=False,
        help_text=_("None chosen = every store."),
    )

    class Meta:
        model = Survey
        fields = [*SURVEY_FIELDS, "trigger_stores"]
        widgets = {
            "intro_en": forms.Textarea(attrs={"rows": 2}),
            "intro_zh_hans": forms.Textarea(attrs={"rows": 2}),
            "thank_you_en": forms.Textarea(attrs={"rows": 2}),
            "thank_you_zh_hans": forms.Textarea(attrs={"rows": 2}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("trigger_channels", "invite_channels"):
            self.fields[name].widget.attrs["class"] = "tick-list"
        for name in localized_fields(Survey, ["title"]):
            self.fields[name].required = False

    def _post_clean(self):
        # The service decides; the model's own validation would complain about the plain
        # columns modeltranslation mirrors.
        pass


class QuestionForm(BootstrapMixin, forms.Form):
    type = forms.ChoiceField(label=_("Type"), choices=QuestionType.choices)
    text_en = forms.CharField(label="Question · English", max_length=300, required=False)
    text_zh_hans = forms.CharField(label="Question · 简体中文", max_length=300, required=False)
    help_text_en = forms.CharField(label="Help text · English", max_length=300, required=False)
    help_text_zh_hans = forms.CharField(
        label="Help text · 简体中文", max_length=300, required=False
    )
    required = forms.BooleanField(label=_("Required"), required=False, initial=True)
    measure = forms.ChoiceField(
        label=_("Feeds"),
        choices=Measure.choices,
        required=False,
        help_text=_("NPS reads a 0–10 question; CSAT and CES a 1–5 rating. One per survey."),
    )
    show_if_question = forms.ModelChoiceField(
        label=_("Show only when"),
        queryset=Question.objects.none(),
        required=False,
        empty_label=_("Always show"),
    )
    show_if_values = forms.CharField(
        label=_("…the answer is one of"),
        required=False,
        max_length=200,
        help_text=_("Comma-separated: 0–10, 1–5, yes / no, or choice codes."),
    )
    sections = [
        (None, None, ["type", "text", "help_text", "required", "measure"]),
        (
            _("Condition"),
            _("Show this question only after a given answer to an earlier question."),
            ["show_if_question", "show_if_values"],
        ),
    ]

    def __init__(self, *args, sources=None, **kwargs):
        super().__init__(*args, **kwargs)
        if sources is not None:
            self.fields["show_if_question"].queryset = sources
        for base, label in (("text", _("Question")), ("help_text", _("Help text"))):
            for lang in content_languages():
                self.fields[f"{base}_{lang.replace('-', '_')}"].label = content_label(label, lang)

    def clean_show_if_values(self):
        raw = self.cleaned_data.get("show_if_values") or ""
        return [v.strip() for v in raw.replace("，", ",").split(",") if v.strip()]

    @staticmethod
    def initial_for(question: Question) -> dict:
        data = {
            name: getattr(question, name)
            for name in [
                "type",
                "text_en",
                "text_zh_hans",
                "help_text_en",
                "help_text_zh_hans",
                "required",
                "measure",
                "show_if_question",
            ]
        }
        data["show_if_values"] = ", ".join(question.show_if_values or [])
        return data


class ChoiceForm(forms.Form):
    value = forms.SlugField(label=_("Code"), max_length=40, required=False)
    label_en = forms.CharField(label="Label · English", max_length=200, required=False)
    label_zh_hans = forms.CharField(label="Label · 简体中文", max_length=200, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.widget.attrs["class"] = "form-control form-control-sm"
        for lang in content_languages():
            self.fields[f"label_{lang.replace('-', '_')}"].label = content_label(_("Label"), lang)


ChoiceFormSet = forms.formset_factory(ChoiceForm, extra=3, max_num=50)


def choice_rows(formset) -> list[dict]:
    """The filled rows of a valid choice formset, in order."""
    return [
        {k: f.cleaned_data.get(k, "") for k in ("value", *CHOICE_LABELS)}
        for f in formset.forms
        if f.cleaned_data.get("value") or any(f.cleaned_data.get(c) for c in CHOICE_LABELS)
    ]


def uses_choices(qtype: str) -> bool:
    return qtype in CHOICE_TYPES


class InviteForm(BootstrapMixin, forms.Form):
    tag = forms.ModelChoiceField(
        label=_("Members with the tag"),
        queryset=Tag.objects.order_by("name"),
        required=False,
        empty_label="—",
    )
    members = forms.FileField(
        label=_("…or a list of member numbers"),
        required=False,
        help_text=_(".csv, .xlsx or .txt; member numbers in the first column."),
    )

    def clean(self):
        data = super().clean()
        if bool(data.get("tag")) == bool(data.get("members")):
            raise forms.ValidationError(_("Choose a tag or upload a list (one of them)."))
        return data


class PeriodForm(forms.Form):
    since = forms.DateField(label=_("From"), required=False)
    until = forms.DateField(label=_("To"), required=False)
    by = forms.ChoiceField(
        label=_("Trend by"),
        required=False,
        choices=[("week", _("Week")), ("month", _("Month"))],
    )


def _period(request) -> tuple[PeriodForm, dt.date | None, dt.date | None, str]:
    form = PeriodForm(request.GET)
    if not form.is_valid():
        return form, None, None, "week"
    data = form.cleaned_data
    return form, data.get("since"), data.get("until"), data.get("by") or "week"


def survey_period(params) -> tuple[PeriodForm, dt.date | None, dt.date | None, str]:
    """A survey page's period from its query string: (form, since, until, trend by); invalid
    dates mean no limit (the form shows why)."""
    form = PeriodForm(params)
    if not form.is_valid():
        return form, None, None, "week"
    data = form.cleaned_data
    return form, data.get("since"), data.get("until"), data.get("by") or "week"
