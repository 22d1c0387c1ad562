"""The audit trail's filter form: it checks the shape of the filters and turns them into
:class:`~apps.core.audit.AuditFilters`."""

import re

from django import forms
from django.utils.translation import gettext_lazy as _

from apps.accounts.selectors import user_get_by_email
from apps.core.audit import AuditFilters, action_choices, target_type_choices

CODE = re.compile(r"^[a-z0-9_]+(\.[a-z0-9_]+)*$")
TARGET_TYPE = re.compile(r"^[a-z0-9_]+\.[a-z0-9_]+$")


class _CodeChoiceField(forms.ChoiceField):
    """A select of the known codes that also takes any well-formed code from a link (an action
    written by a newer service, a target type not in the list)."""

    def __init__(self, *, pattern: re.Pattern, **kwargs):
        self.pattern = pattern
        super().__init__(**kwargs)

    def has_choice(self, value) -> bool:
        return super().valid_value(value)

    def valid_value(self, value) -> bool:
        return self.has_choice(value) or bool(self.pattern.match(str(value)))


class AuditFilterForm(forms.Form):
    actor = forms.CharField(
        label=_("Who"),
        required=False,
        max_length=254,
        widget=forms.TextInput(
            attrs={"list": "audit-actors", "autocomplete": "off", "spellcheck": "false"}
        ),
    )
    action = _CodeChoiceField(label=_("Action"), required=False, pattern=CODE)
    target_type = _CodeChoiceField(label=_("Target type"), required=False, pattern=TARGET_TYPE)
    target_id = forms.CharField(label=_("Target id"), required=False, max_length=64)
    date_from = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["action"].choices = [("", _("Any action")), *action_choices()]
        self.fields["target_type"].choices = [("", _("Any target")), *target_type_choices()]
        for name in ("action", "target_type"):
            field = self.fields[name]
            value = self.data.get(name, "")
            if value and not field.has_choice(value) and field.valid_value(value):
                field.choices = [*field.choices, (value, value)]  # so the select shows it
        self.actor_user = None

    def clean_actor(self) -> str:
        email = self.cleaned_data["actor"].strip()
        if email:
            self.actor_user = user_get_by_email(email=email)
            if self.actor_user is None:
                raise forms.ValidationError(_("No account has this e-mail address."))
        return email

    def clean(self):
        data = super().clean()
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", _("The end date is before the start date."))
        if data.get("target_id") and not data.get("target_type"):
            self.add_error("target_type", _("Choose the type of the target too."))
        return data

    def filters(self) -> AuditFilters:
        """The filters to apply; call after ``is_valid()`` returned True (or on an unbound
        form, for everything)."""
        data = self.cleaned_data if self.is_bound else {}
        return AuditFilters(
            actor_id=self.actor_user.pk if self.actor_user is not None else None,
            action=data.get("action", ""),
            target_type=data.get("target_type", ""),
            target_id=data.get("target_id", "").strip(),
            date_from=data.get("date_from"),
            date_to=data.get("date_to"),
        )

    def described(self) -> dict[str, str]:
        """The filters as set, in words a reader of the export's audit row understands."""
        data = self.cleaned_data if self.is_bound else {}
        return {
            name: str(value)
            for name in ("actor", "action", "target_type", "target_id", "date_from", "date_to")
            if (value := data.get(name))
        }
