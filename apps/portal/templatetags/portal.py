"""Template helpers for the portal and the restyled allauth pages (Bootstrap form widgets)."""

from django import forms, template

register = template.Library()


@register.filter
def bs_kind(bound_field) -> str:
    widget = bound_field.field.widget
    if isinstance(widget, forms.CheckboxInput):
        return "check"
    if isinstance(widget, (forms.RadioSelect, forms.CheckboxSelectMultiple)):
        return "choices"
    if isinstance(widget, forms.Select):
        return "select"
    return "input"


@register.filter
def bs_widget(bound_field):
    """The field's widget with Bootstrap classes (and ``is-invalid`` when it has errors)."""
    kind = bs_kind(bound_field)
    css = {"check": "form-check-input", "select": "form-select", "choices": ""}.get(
        kind, "form-control"
    )
    if bound_field.errors:
        css += " is-invalid"
    attrs = {"class": (bound_field.field.widget.attrs.get("class", "") + " " + css).strip()}
    if bound_field.errors:
        attrs["aria-invalid"] = "true"
    return bound_field.as_widget(attrs=attrs)
