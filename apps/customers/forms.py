"""The customer profile as a form, defined once: its fields come from the ``Customer`` model
(labels, lengths, choices), its clean is the service's (``customer_profile_problems``). The
staff pages, the portal and the Django admin build their profile forms from here, each with the
fields it shows and, where the audience needs other words, its own labels; the API's serializer
is derived from the same model fields and calls the same clean. Uploads of import files are
checked here for every form that takes one (``upload_clean``)."""

from typing import Any

from django import forms
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from apps.core.exceptions import ValidationFailed

from .importing.files import import_upload_check
from .models import Customer
from .selectors import store_list
from .services import PROFILE_FIELDS, customer_profile_problems

# A phone is typed in any common format (spaces, dashes, national form) and stored in E.164.
PHONE_INPUT_MAX_LENGTH = 32


def profile_formfields(
    names: list[str] | None = None,
    *,
    labels: dict[str, Any] | None = None,
    help_texts: dict[str, Any] | None = None,
    widgets: dict[str, forms.Widget] | None = None,
) -> dict[str, forms.Field]:
    """Form fields for the profile ``names`` (default: all), from the model's own fields."""
    labels, help_texts, widgets = labels or {}, help_texts or {}, widgets or {}
    fields: dict[str, forms.Field] = {}
    for name in names or PROFILE_FIELDS:
        extra: dict[str, Any] = {"required": False} if name not in _REQUIRED else {}
        if name in widgets:
            extra["widget"] = widgets[name]
        if name == "phone":
            field: forms.Field = forms.CharField(
                label=capfirst(Customer._meta.get_field("phone").verbose_name),
                max_length=PHONE_INPUT_MAX_LENGTH,
                help_text=_("Any common format; stored as +8613812345678."),
                **extra,
            )
        elif name == "store":
            field = forms.ModelChoiceField(
                label=capfirst(Customer._meta.get_field("store").verbose_name),
                queryset=store_list(),
                to_field_name="code",
                **extra,
            )
        else:
            field = Customer._meta.get_field(name).formfield(**extra)
        if name in labels:
            field.label = labels[name]
        if name in help_texts:
            field.help_text = help_texts[name]
        fields[name] = field
    return fields


# Fields with a default the form must always send (the rest may be left blank).
_REQUIRED = {"preferred_language", "preferred_channel"}


class ProfileFormMixin:
    """Runs the profile's one clean on the submitted profile fields and shows each problem on
    its field. ``customer`` is the customer being changed (None when enrolling one)."""

    def __init__(self, *args: Any, customer: Customer | None = None, **kwargs: Any) -> None:
        self.customer = customer
        super().__init__(*args, **kwargs)

    def clean(self) -> dict[str, Any]:
        data = super().clean()  # type: ignore[misc]
        profile = {name: data[name] for name in PROFILE_FIELDS if name in data}
        if "store" in profile:
            profile["store"] = profile["store"] or None
        cleaned, problems = customer_profile_problems(profile, current=self.customer)
        for name, message in problems:
            if name not in self.errors:  # type: ignore[attr-defined]
                target = name if name in self.fields else None  # type: ignore[attr-defined]
                self.add_error(target, message)  # type: ignore[attr-defined]
        data.update(cleaned)
        return data


def profile_form_class(
    name: str,
    names: list[str] | None = None,
    *,
    base: type[forms.Form] = forms.Form,
    **options: Any,
) -> type[forms.Form]:
    """A form class with the profile ``names`` and the one clean (``ProfileFormMixin``)."""
    return type(name, (ProfileFormMixin, base), profile_formfields(names, **options))


def upload_clean(upload: Any) -> Any:
    """A form's file field through the one upload check of every import (.csv or .xlsx, at most
    IMPORT_MAX_UPLOAD_BYTES): the dashboard's import page and the admin's."""
    try:
        import_upload_check(name=upload.name, size=upload.size)
    except ValidationFailed as exc:
        raise forms.ValidationError(exc.message) from exc
    return upload
