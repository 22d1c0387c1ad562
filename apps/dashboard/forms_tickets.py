"""Forms of the complaint queue and ticket page: they check shape; the complaints services
decide."""

from django import forms
from django.utils.translation import gettext_lazy as _

from apps.complaints.enums import CompensationKind, Priority, TicketChannel, TicketStatus
from apps.complaints.services.tickets import DESCRIPTION_MAX, SUBJECT_MAX
from apps.core.forms import AttachmentsField

THEN_CHOICES = [
    ("", _("Keep open")),
    (TicketStatus.WAITING, _("Wait for the customer")),
    (TicketStatus.RESOLVED, _("Resolve")),
]


class ReplyForm(forms.Form):
    body = forms.CharField(
        label=_("Message"), max_length=10_000, widget=forms.Textarea(attrs={"rows": 4})
    )
    internal = forms.BooleanField(
        label=_("Internal note (the customer never sees it)"), required=False
    )
    then = forms.ChoiceField(label=_("Then"), choices=THEN_CHOICES, required=False)
    attachments = AttachmentsField(label=_("Attach files"))


class TriageForm(forms.Form):
    priority = forms.ChoiceField(label=_("Priority"), choices=Priority.choices)
    category = forms.ChoiceField(label=_("Category"))

    def __init__(self, *args, categories=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["category"].choices = [(str(c.pk), c.label) for c in categories]


class AssignForm(forms.Form):
    assignee = forms.ChoiceField(label=_("Assignee"), required=False)
    team = forms.ChoiceField(label=_("Team"), required=False)

    def __init__(self, *args, agents=(), teams=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignee"].choices = [("", _("Nobody"))] + [
            (str(u.pk), u.get_full_name()) for u in agents
        ]
        self.fields["team"].choices = [("", _("Keep the team"))] + [
            (str(t.pk), t.name) for t in teams
        ]


class StatusForm(forms.Form):
    status = forms.ChoiceField(choices=TicketStatus.choices)


class CompensationForm(forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), choices=CompensationKind.choices)
    points = forms.IntegerField(label=_("Points"), required=False, min_value=1, max_value=1_000_000)
    amount = forms.DecimalField(
        label=_("Amount (¥)"), required=False, min_value=0, max_digits=10, decimal_places=2
    )
    reason = forms.CharField(label=_("Reason"), max_length=300)


class DecisionForm(forms.Form):
    approve = forms.TypedChoiceField(choices=[("1", "1"), ("0", "0")], coerce=lambda v: v == "1")


class TicketCreateForm(forms.Form):
    member_number = forms.CharField(label=_("Member number"), max_length=16)
    category = forms.ChoiceField(label=_("Category"))
    channel = forms.ChoiceField(
        label=_("Channel"),
        choices=[
            (c, label)
            for c, label in TicketChannel.choices
            if c in (TicketChannel.PHONE, TicketChannel.EMAIL, TicketChannel.STORE)
        ],
    )
    priority = forms.ChoiceField(
        label=_("Priority"), choices=Priority.choices, initial=Priority.NORMAL
    )
    subject = forms.CharField(label=_("Subject"), max_length=SUBJECT_MAX)
    description = forms.CharField(
        label=_("Description"), max_length=DESCRIPTION_MAX, widget=forms.Textarea(attrs={"rows": 5})
    )

    def __init__(self, *args, categories=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["category"].choices = [("", _("Choose…"))] + [
            (str(c.pk), c.label) for c in categories
        ]


class BulkAssignForm(forms.Form):
    tickets = forms.TypedMultipleChoiceField(coerce=int)
    assignee = forms.CharField(required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Any ids: the service assigns the ones that exist (and the choices would cost a query).
        posted = self.data.getlist("tickets") if hasattr(self.data, "getlist") else []
        self.fields["tickets"].choices = [(v, v) for v in posted[:500] if str(v).isdigit()]
