"""components/_field.html, the one form-field renderer of the dashboard, the portal and the
sign-in pages."""

from django import forms
from django.template.loader import render_to_string
from django.utils import translation


class SampleForm(forms.Form):
    name = forms.CharField(label="Name", max_length=20, help_text="As on the card.")
    kind = forms.ChoiceField(label="Kind", choices=[("a", "A"), ("b", "B")], required=False)
    agree = forms.BooleanField(label="I agree")
    token = forms.CharField(widget=forms.HiddenInput, required=False)


def render(field, **options) -> str:
    with translation.override("en"):
        return render_to_string("components/_field.html", {"field": field, **options})


def test_a_field_with_an_error_is_marked_and_described_by_it():
    form = SampleForm(data={"kind": "a"})
    with translation.override("en"):
        html = render(form["name"])
    assert 'class="form-control is-invalid"' in html
    assert 'aria-invalid="true"' in html
    assert 'aria-describedby="id_name_error id_name_helptext"' in html
    assert (
        '<div class="invalid-feedback d-block" id="id_name_error">This field is required.</div>'
        in html
    )
    assert '<div class="form-text" id="id_name_helptext">As on the card.</div>' in html
    assert '<span class="text-danger" aria-hidden="true">*</span>' in html
    assert 'class="mb-3"' in html


def test_a_valid_field_has_no_error_marks():
    form = SampleForm(data={"name": "Wei", "agree": "on"})
    html = render(form["name"])
    assert (
        "is-invalid" not in html and "aria-invalid" not in html and "invalid-feedback" not in html
    )
    assert 'value="Wei"' in html and 'maxlength="20"' in html


def test_options_size_place_and_switch():
    form = SampleForm()
    select = render(form["kind"], small=True, col="col-md-4")
    assert 'class="form-select form-select-sm"' in select
    assert '<div class="col-md-4">' in select
    assert "*</span>" not in select  # optional
    switch = render(form["agree"], switch=True)
    assert 'class="form-check form-switch"' in switch
    assert 'class="form-check-input"' in switch
    assert "form-switch" not in render(form["agree"])


def test_widget_classes_are_kept_and_not_doubled():
    form = SampleForm()
    form.fields["name"].widget.attrs["class"] = "form-control mono"
    assert 'class="form-control mono"' in render(form["name"])


def test_a_hidden_field_is_only_its_input():
    html = render(SampleForm()["token"]).strip()
    assert html == '<input type="hidden" name="token" id="id_token">'
