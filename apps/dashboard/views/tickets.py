"""The complaint queue (/staff/tickets/) and the ticket page: views validate, call a complaints
service or selector, and render. Every action is a POST that redirects back to the ticket."""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View
from django.views.generic import TemplateView

from apps.accounts.models import User
from apps.complaints.enums import Priority, TicketChannel, TicketStatus
from apps.complaints.exceptions import TicketNotFound
from apps.complaints.member_selectors import ticket_attachments
from apps.complaints.models import Compensation, Team
from apps.complaints.queue_filters import queue_filters_parse
from apps.complaints.selectors import categories_labelled
from apps.complaints.services.compensation import compensation_decide, compensation_request
from apps.complaints.services.conversation import staff_reply
from apps.complaints.services.lifecycle import MOVES, ticket_status_set
from apps.complaints.services.tickets import (
    ticket_assign,
    ticket_open,
    ticket_take,
    ticket_triage,
    tickets_bulk_assign,
)
from apps.complaints.staff_selectors import (
    VIEWS,
    QueueFilters,
    agents,
    compensations,
    conversation,
    customer_context,
    history_described,
    last_nps,
    pending_compensations,
    saved_replies,
    teams,
    ticket_clocks,
    ticket_get_for_staff,
    ticket_queue,
    view_counts,
)
from apps.core.exceptions import ApplicationError
from apps.core.private_files import private_file_response
from apps.customers.exceptions import CustomerNotFound
from apps.customers.selectors import customer_get

from ..forms_tickets import (
    AssignForm,
    BulkAssignForm,
    CompensationForm,
    DecisionForm,
    ReplyForm,
    StatusForm,
    TicketCreateForm,
    TriageForm,
)
from ._helpers import paginate
from .export_jobs import SourceExportView
from .form_page import FormPageView
from .mixins import StaffRequiredMixin

VIEW = "complaints.view_ticket"
WORK = ("complaints.view_ticket", "complaints.work_ticket")

VIEW_LABELS = {
    "mine": gettext_lazy("Mine"),
    "team": gettext_lazy("My teams"),
    "unassigned": gettext_lazy("Unassigned"),
    "soon": gettext_lazy("Breaching soon"),
    "breached": gettext_lazy("Breached"),
    "waiting": gettext_lazy("Waiting on customer"),
    "open": gettext_lazy("All open"),
    "done": gettext_lazy("Resolved and closed"),
    "all": gettext_lazy("Everything"),
}


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _filters(request) -> QueueFilters:
    return queue_filters_parse(request.GET, user=request.user)


class TicketListView(StaffRequiredMixin, TemplateView):
    permission_required = VIEW
    template_name = "dashboard/tickets/list.html"

    def get_context_data(self, **kwargs):
        user, now = self.request.user, timezone.now()
        filters = _filters(self.request)
        counts = view_counts(user=user, now=now)
        return super().get_context_data(
            page_obj=paginate(ticket_queue(user=user, filters=filters, now=now), self.request),
            filters=filters,
            tabs=[(v, VIEW_LABELS[v], counts.get(v)) for v in VIEWS],
            statuses=TicketStatus.choices,
            priorities=Priority.choices,
            channels=TicketChannel.choices,
            categories=categories_labelled(active_only=False),
            teams=list(teams()),
            agents=list(agents()),
            sorts=[
                ("due", _("Due first")),
                ("priority", _("Priority")),
                ("-created", _("Newest")),
                ("created", _("Oldest")),
                ("updated", _("Recently updated")),
            ],
            now=now,
            can_assign=user.has_perm("complaints.assign_ticket"),
            **kwargs,
        )


class TicketExportView(SourceExportView):
    """The queue as filtered, as CSV or XLSX (audited)."""

    kind = "tickets"


class TicketCreateView(FormPageView):
    """A complaint taken by phone, e-mail or in store."""

    permission_required = ("complaints.add_ticket", "complaints.work_ticket")
    form_class = TicketCreateForm
    title = gettext_lazy("New complaint")
    submit_label = gettext_lazy("File complaint")
    success_message = gettext_lazy("Complaint filed.")

    def get_form_kwargs(self):
        self.categories = categories_labelled()
        return {
            "categories": self.categories,
            "initial": {"member_number": self.request.GET.get("member", "")},
        }

    def save(self, form):
        data = form.cleaned_data
        try:
            customer = customer_get(member_number=data["member_number"].strip())
        except CustomerNotFound as exc:
            exc.extra["field"] = "member_number"
            raise
        self.ticket = ticket_open(
            customer=customer,
            category=next(c for c in self.categories if str(c.pk) == data["category"]),
            subject=data["subject"],
            description=data["description"],
            channel=data["channel"],
            priority=data["priority"],
            actor=self.request.user,
        )

    def get_success_url(self):
        return reverse("dashboard:ticket-detail", kwargs={"reference": self.ticket.reference})

    def get_cancel_url(self):
        return reverse("dashboard:ticket-list")


class TicketMixin(StaffRequiredMixin):
    def load_ticket(self):
        try:
            self.ticket = ticket_get_for_staff(reference=self.kwargs["reference"])
        except TicketNotFound:
            raise Http404 from None
        return self.ticket


class TicketDetailView(TicketMixin, TemplateView):
    permission_required = VIEW
    template_name = "dashboard/tickets/detail.html"

    def get_context_data(self, **kwargs):
        ticket = self.load_ticket()
        now = timezone.now()
        categories = categories_labelled()
        account = getattr(ticket.customer, "loyalty_account", None)
        return super().get_context_data(
            ticket=ticket,
            messages_list=list(conversation(ticket=ticket)),
            ticket_files=ticket_attachments(ticket=ticket),
            events=history_described(ticket=ticket),
            clocks=ticket_clocks(ticket=ticket, now=now),
            context=customer_context(ticket=ticket),
            account=account,
            nps=last_nps(customer_id=ticket.customer_id),
            compensation_list=list(compensations(ticket=ticket)),
            replies=list(saved_replies()),
            reply_form=kwargs.pop("reply_form", None) or ReplyForm(),
            triage_form=TriageForm(
                categories=categories,
                initial={"priority": ticket.priority, "category": str(ticket.category_id)},
            ),
            assign_form=AssignForm(
                agents=agents(), teams=teams(), initial={"assignee": str(ticket.assignee_id or "")}
            ),
            compensation_form=CompensationForm(),
            can_work=self.request.user.has_perm("complaints.work_ticket"),
            can_assign=self.request.user.has_perm("complaints.assign_ticket"),
            can_approve=self.request.user.has_perm("complaints.approve_compensation"),
            next_statuses=_next_statuses(ticket.status),
            **kwargs,
        )


def _next_statuses(status: str) -> list[tuple[str, str]]:
    """The moves the service allows from ``status`` (``MOVES``), as button labels."""
    reopen = status in (TicketStatus.RESOLVED, TicketStatus.CLOSED)
    order = list(TicketStatus.values)
    return [
        (s, _("Reopen") if s == TicketStatus.OPEN and reopen else TicketStatus(s).label)
        for s in sorted(MOVES[status], key=order.index)
    ]


class TicketActionView(TicketMixin, View):
    """POST only; ``act`` calls the service; refusals come back as a message."""

    permission_required = WORK
    http_method_names = ["post"]
    form_class = None
    done_message = gettext_lazy("Saved.")

    def post(self, request, *args, **kwargs):
        ticket = self.load_ticket()
        form = (
            self.form_class(request.POST, request.FILES, **self.form_kwargs())
            if self.form_class
            else None
        )
        if form is not None and not form.is_valid():
            messages.error(
                request,
                _("Check the form: %(errors)s")
                % {"errors": "; ".join(e for errs in form.errors.values() for e in errs)},
            )
        else:
            try:
                self.act(ticket, form.cleaned_data if form is not None else {})
            except ApplicationError as exc:
                messages.error(request, exc.message)
            else:
                messages.success(request, self.done_message)
        return redirect("dashboard:ticket-detail", reference=ticket.reference)

    def form_kwargs(self) -> dict:
        return {}

    def act(self, ticket, data):
        raise NotImplementedError


class TicketReplyView(TicketActionView):
    form_class = ReplyForm
    done_message = gettext_lazy("Sent.")

    def act(self, ticket, data):
        staff_reply(
            ticket=ticket,
            author=self.request.user,
            body=data["body"],
            internal=data["internal"],
            then=data["then"] or None,
            files=data["attachments"],
        )


class TicketTakeView(TicketActionView):
    done_message = gettext_lazy("The ticket is yours.")

    def act(self, ticket, data):
        ticket_take(ticket=ticket, agent=self.request.user)


class TicketAssignView(TicketActionView):
    form_class = AssignForm
    done_message = gettext_lazy("Assigned.")

    def form_kwargs(self):
        return {"agents": agents(), "teams": teams()}

    def act(self, ticket, data):
        assignee = (
            User.objects.filter(pk=_int(data["assignee"])).first() if data["assignee"] else None
        )
        team = Team.objects.filter(pk=_int(data["team"])).first() if data["team"] else None
        ticket_assign(ticket=ticket, actor=self.request.user, assignee=assignee, team=team)


class TicketStatusView(TicketActionView):
    form_class = StatusForm
    done_message = gettext_lazy("Status changed.")

    def act(self, ticket, data):
        ticket_status_set(ticket=ticket, actor=self.request.user, status=data["status"])


class TicketTriageView(TicketActionView):
    form_class = TriageForm
    done_message = gettext_lazy("Saved; the SLA clocks follow the new priority and category.")

    def form_kwargs(self):
        self.categories = categories_labelled()
        return {"categories": self.categories}

    def act(self, ticket, data):
        category = next(c for c in self.categories if str(c.pk) == data["category"])
        ticket_triage(
            ticket=ticket, actor=self.request.user, priority=data["priority"], category=category
        )


class TicketCompensateView(TicketActionView):
    form_class = CompensationForm
    done_message = gettext_lazy("Compensation recorded.")

    def act(self, ticket, data):
        comp = compensation_request(
            ticket=ticket,
            actor=self.request.user,
            kind=data["kind"],
            points=data["points"] or 0,
            amount=data["amount"] or 0,
            reason=data["reason"],
        )
        if comp.status == "pending":
            self.done_message = _("Above your limit: it waits for a manager's approval.")


class CompensationDecideView(StaffRequiredMixin, View):
    permission_required = ("complaints.view_ticket", "complaints.approve_compensation")
    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        comp = Compensation.objects.select_related("ticket").filter(pk=kwargs["pk"]).first()
        if comp is None:
            raise Http404
        form = DecisionForm(request.POST)
        if form.is_valid():
            try:
                compensation_decide(
                    compensation=comp, actor=request.user, approve=form.cleaned_data["approve"]
                )
            except ApplicationError as exc:
                messages.error(request, exc.message)
            else:
                messages.success(
                    request,
                    _("Approved and issued.") if form.cleaned_data["approve"] else _("Rejected."),
                )
        if request.POST.get("back") == "approvals":
            return redirect("dashboard:ticket-approvals")
        return redirect("dashboard:ticket-detail", reference=comp.ticket.reference)


class TicketBulkAssignView(StaffRequiredMixin, View):
    permission_required = ("complaints.view_ticket", "complaints.assign_ticket")
    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        form = BulkAssignForm(request.POST)
        if not form.is_valid():
            messages.error(request, _("Choose tickets and an assignee."))
        else:
            assignee = (
                User.objects.filter(pk=_int(form.cleaned_data["assignee"])).first()
                if form.cleaned_data["assignee"]
                else None
            )
            try:
                n = tickets_bulk_assign(
                    ticket_ids=form.cleaned_data["tickets"], actor=request.user, assignee=assignee
                )
            except ApplicationError as exc:
                messages.error(request, exc.message)
            else:
                messages.success(request, _("%(n)s tickets assigned.") % {"n": n})
        return redirect(
            reverse("dashboard:ticket-list") + "?" + request.POST.get("query", "")[:500]
        )


class CompensationApprovalListView(StaffRequiredMixin, TemplateView):
    permission_required = ("complaints.view_ticket", "complaints.approve_compensation")
    template_name = "dashboard/tickets/approvals.html"

    def get_context_data(self, **kwargs):
        return super().get_context_data(pending=list(pending_compensations()[:200]), **kwargs)


class TicketAttachmentView(TicketMixin, View):
    """Any file of a ticket, for staff who may see tickets, as a download."""

    permission_required = VIEW

    def get(self, request, *args, **kwargs):
        ticket = self.load_ticket()
        attachment = ticket.attachments.filter(pk=kwargs["pk"]).first()
        if attachment is None:
            raise Http404
        return private_file_response(
            attachment.file.name,
            download_name=attachment.name,
            content_type=attachment.content_type,
        )
