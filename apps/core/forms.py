"""Form pieces every app's forms share: the text rule, service errors, attachments."""

from django import forms
from django.core.exceptions import ValidationError

from .exceptions import ApplicationError, UploadRefused
from .text import instance_text_problems
from .uploads import ACCEPT, CleanUpload, inspect_uploads


class TextRuleModelForm(forms.ModelForm):
    """A model form that holds the text rule (``apps.core.text``) on the text columns it sets:
    a control character is an error on its field, never a stored value that breaks an export.
    The admin site gives it to every model admin and inline (``ClienteleAdminSite.register``),
    so no admin page can bypass the rule, whatever model it edits."""

    def _post_clean(self):
        super()._post_clean()
        names = self.changed_data if self.instance.pk else list(self.fields)
        for name, message in instance_text_problems(self.instance, names=names):
            if name not in self.errors:
                self.add_error(name if name in self.fields else None, message)


def with_text_rule(form_class: type[forms.ModelForm]) -> type[forms.ModelForm]:
    """``form_class`` holding the text rule too (itself when it already does)."""
    if issubclass(form_class, TextRuleModelForm):
        return form_class
    return type(form_class.__name__, (TextRuleModelForm, form_class), {})


def add_service_error(form: forms.BaseForm, exc: ApplicationError) -> None:
    """Show a service refusal on the form: on its field when the error names one the form has,
    else as a form-wide error."""
    field = exc.extra.get("field")
    form.add_error(field if field in form.fields else None, exc.message)


class MultipleFileInput(forms.FileInput):
    """A file input that takes several files (Django 5: ``allow_multiple_selected``). A plain
    ``FileInput``, not ``ClearableFileInput``: that one links the current file through its
    ``url()``, which a private file does not have, and attachments are only ever added."""

    allow_multiple_selected = True


class AttachmentsField(forms.FileField):
    """Several attachments in one input. ``cleaned_data`` holds a list of ``CleanUpload``
    (``apps.core.uploads.inspect_uploads``: type by content, size, pixels, metadata stripped,
    PDF tripwire), empty when none was sent and the field is optional (the default); a refused
    upload is an error on the field, one message per refused file. Nothing is stored: the
    service that takes the cleaned list calls ``store_private``."""

    widget = MultipleFileInput

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def widget_attrs(self, widget: forms.Widget) -> dict:
        # A hint for the file picker only: the content decides.
        return {**super().widget_attrs(widget), "accept": ACCEPT}

    def to_python(self, data) -> list:
        files = data if isinstance(data, list | tuple) else [data]
        one_file = super().to_python  # name, size and emptiness, as FileField checks them
        return [one_file(f) for f in files if f not in self.empty_values]

    def clean(self, data, initial=None) -> list[CleanUpload]:
        # Field.clean (to_python, required, validators), without FileField's keep-the-initial-
        # file and clear-checkbox rules, which do not apply to adding attachments.
        files = forms.Field.clean(self, data)
        if not files:
            return []
        try:
            return inspect_uploads(files)
        except UploadRefused as exc:
            raise ValidationError(
                [ValidationError(message, code=exc.code) for message in exc.messages]
            ) from None
