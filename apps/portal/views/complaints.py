"""The member's complaints: file one (category, the order it concerns, what happened, photos or
PDFs), follow its status and conversation, reply, reopen within the window, rate the
resolution. ``/me/complaints/rate/<token>/<score>/`` is the one-click rating link from the
resolution e-mail: it works without logging in (the signed token is the capability) and asks
for a confirming click, so a mail scanner that follows links rates nothing."""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views import View
from django.views.generic import TemplateView

from apps.complaints.enums import TicketChannel, TicketStatus
from apps.complaints.exceptions import TicketNotFound
from apps.complaints.links import rating_token_read
from apps.complaints.member_selectors import (
    attachment_get_for_member,
    categories_for_members,
    public_messages,
    recent_orders_for_member,
    ticket_attachments,
    ticket_get_for_member,
    ticket_list_for_member,
)
from apps.complaints.models import Ticket
from apps.complaints.services.conversation import customer_reply
from apps.complaints.services.lifecycle import (
    reopen_window_open,
    ticket_rate,
    ticket_reopen_by_member,
)
from apps.complaints.services.tickets import ticket_open
from apps.core.exceptions import ApplicationError
from apps.core.private_files import private_file_response

from .. import ratelimit
from ..complaint_forms import ComplaintForm, RatingForm, ReplyForm
from .mixins import MemberMixin

FILED_PER_MEMBER_PER_HOUR = 10
REPLIES_PER_MEMBER_PER_HOUR = 60


class ComplaintListView(MemberMixin, TemplateView):
    template_name = "portal/complaints/list.html"
    nav = "complaints"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["tickets"] = list(ticket_list_for_member(customer=self.customer)[:100])
        return context


class ComplaintCreateView(MemberMixin, TemplateView):
    template_name = "portal/complaints/new.html"
    nav = "complaints"

    def _form(self, data=None, files=None):
        self.categories = categories_for_members()
        self.orders = recent_orders_for_member(customer=self.customer)
        initial = {"order": self.request.GET.get("order", "")}
        return ComplaintForm(
            data, files, categories=self.categories, orders=self.orders, initial=initial
        )

    def get(self, request, *args, **kwargs):
        return self.render_to_response(self.get_context_data(form=self._form()))

    def post(self, request, *args, **kwargs):
        form = self._form(request.POST, request.FILES)
        if not form.is_valid():
            return self.render_to_response(self.get_context_data(form=form))
        if not ratelimit.hit(
            scope="complaint",
            key=str(self.customer.pk),
            limit=FILED_PER_MEMBER_PER_HOUR,
            window_seconds=3600,
        ):
            form.add_error(
                None, _("You have filed many complaints in the last hour; please try again later.")
            )
            return self.render_to_response(self.get_context_data(form=form))
        data = form.cleaned_data
        category = next(c for c in self.categories if str(c.pk) == data["category"])
        order = next((o for o in self.orders if str(o.pk) == data["order"]), None)
        try:
            ticket = ticket_open(
                customer=self.customer,
                category=category,
                order=order,
                subject=data["subject"],
                description=data["description"],
                channel=TicketChannel.PORTAL,
                files=data["attachments"],
            )
        except ApplicationError as exc:
            form.add_error(
                exc.extra.get("field") if exc.extra.get("field") in form.fields else None,
                exc.message,
            )
            return self.render_to_response(self.get_context_data(form=form))
        messages.success(
            request,
            _("Thank you. Your complaint %(reference)s is filed; we will answer soon.")
            % {"reference": ticket.reference},
        )
        return redirect("portal:complaint-detail", reference=ticket.reference)


class ComplaintDetailView(MemberMixin, TemplateView):
    """The conversation (never an internal note), with reply, reopen and rate."""

    template_name = "portal/complaints/detail.html"
    nav = "complaints"

    def _ticket(self) -> Ticket:
        try:
            return ticket_get_for_member(customer=self.customer, reference=self.kwargs["reference"])
        except TicketNotFound:
            raise Http404 from None

    def get(self, request, *args, **kwargs):
        self.ticket = self._ticket()
        return self.render_to_response(self.get_context_data())

    def post(self, request, *args, **kwargs):
        self.ticket = self._ticket()
        action = request.POST.get("action", "reply")
        forms = {}
        try:
            if action == "reopen":
                ticket_reopen_by_member(ticket=self.ticket)
                messages.success(request, _("Reopened. We will look at it again."))
            elif action == "rate":
                forms["rating_form"] = form = RatingForm(request.POST)
                if not form.is_valid():
                    return self.render_to_response(self.get_context_data(**forms))
                ticket_rate(
                    ticket=self.ticket,
                    score=form.cleaned_data["score"],
                    comment=form.cleaned_data["comment"],
                )
                messages.success(request, _("Thank you for your rating."))
            else:
                forms["reply_form"] = form = ReplyForm(request.POST, request.FILES)
                if not form.is_valid():
                    return self.render_to_response(self.get_context_data(**forms))
                if not ratelimit.hit(
                    scope="complaint-reply",
                    key=str(self.customer.pk),
                    limit=REPLIES_PER_MEMBER_PER_HOUR,
                    window_seconds=3600,
                ):
                    form.add_error(
                        None, _("Too many messages in the last hour; please try again later.")
                    )
                    return self.render_to_response(self.get_context_data(**forms))
                customer_reply(
                    ticket=self.ticket,
                    body=form.cleaned_data["body"],
                    via=TicketChannel.PORTAL,
                    files=form.cleaned_data["attachments"],
                )
                messages.success(request, _("Your message is sent."))
        except ApplicationError as exc:
            messages.error(request, exc.message)
        return redirect("portal:complaint-detail", reference=self.ticket.reference)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        ticket = self.ticket
        done = ticket.status in (TicketStatus.RESOLVED, TicketStatus.CLOSED)
        can_reopen = done and reopen_window_open(ticket=ticket, now=timezone.now())
        context.update(
            ticket=ticket,
            conversation=list(public_messages(ticket=ticket)),
            ticket_files=ticket_attachments(ticket=ticket),
            can_reply=not done or can_reopen,
            can_reopen=can_reopen,
            can_rate=done,
        )
        context.setdefault("reply_form", ReplyForm())
        context.setdefault("rating_form", RatingForm(initial={"score": ticket.satisfaction}))
        return context


class ComplaintRateView(TemplateView):
    """One click from the resolution e-mail: confirm the score (and say more if they like)."""

    template_name = "portal/complaints/rate.html"

    def _ticket(self) -> Ticket:
        ticket_id = rating_token_read(self.kwargs["token"])
        ticket = Ticket.objects.filter(pk=ticket_id).first() if ticket_id else None
        if ticket is None or self.kwargs["score"] not in range(1, 6):
            raise Http404
        return ticket

    def get(self, request, *args, **kwargs):
        self.ticket = self._ticket()
        form = RatingForm(initial={"score": self.kwargs["score"]})
        return self.render_to_response(self.get_context_data(form=form, ticket=self.ticket))

    def post(self, request, *args, **kwargs):
        self.ticket = self._ticket()
        form = RatingForm(request.POST)
        if form.is_valid():
            try:
                ticket_rate(
                    ticket=self.ticket,
                    score=form.cleaned_data["score"],
                    comment=form.cleaned_data["comment"],
                )
            except ApplicationError as exc:
                form.add_error(None, exc.message)
            else:
                return self.render_to_response(self.get_context_data(ticket=self.ticket, done=True))
        return self.render_to_response(self.get_context_data(form=form, ticket=self.ticket))


class ComplaintAttachmentView(MemberMixin, View):
    """A file of the member's own ticket (never one on an internal note), as a download."""

    def get(self, request, *args, **kwargs):
        try:
            ticket = ticket_get_for_member(customer=self.customer, reference=kwargs["reference"])
        except TicketNotFound:
            raise Http404 from None
        attachment = attachment_get_for_member(ticket=ticket, pk=kwargs["pk"])
        if attachment is None:
            raise Http404
        return private_file_response(
            attachment.file.name,
            download_name=attachment.name,
            content_type=attachment.content_type,
        )
