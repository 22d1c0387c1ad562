"""Bootstrap form widgets for ``components/_field.html``, the one field renderer of the staff
dashboard, the member portal and the restyled allauth pages."""

from django import forms, template
from django.forms.boundfield import BoundField
from django.utils.translation import get_language

register = template.Library()

_CONTROL = {
    "check": "form-check-input",
    "select": "form-select",
    "choices": "",
    "input": "form-control",
}


@register.filter
def bs_kind(bound_field: BoundField) -> str:
    widget = bound_field.field.widget
    if isinstance(widget, forms.CheckboxInput):
        return "check"
    if isinstance(widget, (forms.RadioSelect, forms.CheckboxSelectMultiple)):
        return "choices"
    if isinstance(widget, forms.Select):
        return "select"
    return "input"


@register.filter
def bs_widget(bound_field: BoundField, small: bool = False):
    """The field's widget with Bootstrap classes (``small`` for compact controls), marked
    ``is-invalid`` with its error message as description when the field has errors."""
    kind = bs_kind(bound_field)
    classes = bound_field.field.widget.attrs.get("class", "").split()
    control = _CONTROL[kind]
    wanted = [control] if control else []
    if small and kind in ("input", "select"):
        wanted.append(f"{control}-sm")
    if bound_field.errors:
        wanted.append("is-invalid")
    classes += [css for css in wanted if css not in classes]
    attrs = {"class": " ".join(classes)} if classes else {}
    if bound_field.errors:
        attrs["aria-invalid"] = "true"
        described = [f"{bound_field.auto_id}_error"]
        if bound_field.help_text:
            described.append(f"{bound_field.auto_id}_helptext")
        attrs["aria-describedby"] = " ".join(described)
    return bound_field.as_widget(attrs=attrs)


@register.filter
def name_fields(form) -> list[BoundField]:
    """The form's name fields in the reader's order: 姓 then 名 in Chinese (family name first),
    first then last name in English."""
    names = ["first_name", "last_name"]
    if (get_language() or "").startswith("zh"):
        names.reverse()
    return [form[name] for name in names if name in form.fields]
