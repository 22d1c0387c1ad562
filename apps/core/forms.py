"""Form pieces every app's forms share."""

from django import forms

from .exceptions import ApplicationError
from .text import instance_text_problems
from .uploads import UploadRefused, inspect_uploads


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


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class AttachmentsField(forms.FileField):
    """Several files, checked and cleaned by ``apps.core.uploads``: ``cleaned_data`` is a list
    of ``CleanUpload``; a refused file is this field's error and nothing is stored."""

    widget = MultipleFileInput

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("required", False)
        super().__init__(*args, **kwargs)
        self.widget.attrs.setdefault("accept", "image/jpeg,image/png,image/webp,application/pdf")

    def clean(self, data, initial=None):
        files = data if isinstance(data, list | tuple) else ([data] if data else [])
        if not files:
            if self.required:
                raise forms.ValidationError(self.error_messages["required"], code="required")
            return []
        try:
            return inspect_uploads(files)
        except UploadRefused as exc:
            raise forms.ValidationError(exc.message, code=exc.code) from None
