from django import forms
from django.utils.translation import gettext_lazy as _

from apps.complaints.services.tickets import DESCRIPTION_MAX, SUBJECT_MAX
from apps.core.forms import AttachmentsField

REPLY_MAX = 10_000


class ComplaintForm(forms.Form):
    category = forms.ChoiceField(label=_("What is it about?"))
    order = forms.ChoiceField(label=_("Which order?"), required=False)
    subject = forms.CharField(label=_("Subject"), max_length=SUBJECT_MAX)
    description = forms.CharField(
        label=_("What happened?"),
        max_length=DESCRIPTION_MAX,
        widget=forms.Textarea(attrs={"rows": 5}),
    )
    attachments = AttachmentsField(
        label=_("Photos or PDFs (optional)"),
        help_text=_("Up to 5 files, 10 MB each: JPEG, PNG, WebP or PDF."),
    )

    def __init__(self, *args, categories=(), orders=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["category"].choices = [("", _("Choose…"))] + [
            (str(c.pk), c.label) for c in categories
        ]
        self.fields["order"].choices = [("", _("No particular order"))] + [
            (str(o.pk), o.label) for o in orders
        ]


class ReplyForm(forms.Form):
    body = forms.CharField(
        label=_("Your reply"), max_length=REPLY_MAX, widget=forms.Textarea(attrs={"rows": 3})
    )
    attachments = AttachmentsField(label=_("Photos or PDFs (optional)"))


class RatingForm(forms.Form):
    score = forms.TypedChoiceField(
        label=_("How satisfied are you with how we handled it?"),
        choices=[(n, str(n)) for n in range(5, 0, -1)],
        coerce=int,
        widget=forms.RadioSelect,
    )
    comment = forms.CharField(
        label=_("Anything to add? (optional)"),
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
