"""Staff pages for customers: the list, the 360° page, create / edit, and the small POST actions
on the 360° page (tags, interactions, consent). Views validate, call a selector or service, and
render; every rule lives in ``apps.customers``."""

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.dateparse import parse_datetime
from django.utils.functional import cached_property
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View
from django.views.generic import FormView, TemplateView

from apps.analytics.rules.compiler import segment_customers
from apps.analytics.selectors import metrics_for, segment_list
from apps.analytics.wording import reasons_text
from apps.complaints.member_selectors import ticket_list_for_member
from apps.core.exceptions import ApplicationError
from apps.core.forms import add_service_error
from apps.core.timeline import timeline_page
from apps.customers.duplicates import duplicate_candidates
from apps.customers.enums import REVIEW_TAG, Channel, ConsentPurpose, Source
from apps.customers.exceptions import CustomerNotFound
from apps.customers.models import Customer
from apps.customers.selectors import (
    customer_get,
    customer_list_for_staff,
    customer_privacy_summary,
    customer_quick_search,
    customer_stats,
    interaction_list,
    order_list_for_customer,
    store_list,
    tag_get,
    tag_list,
    tag_list_for_customer,
)
from apps.customers.services import (
    consent_record,
    customer_create,
    customer_tag_add,
    customer_tag_remove,
    customer_update,
    interaction_log,
)
from apps.loyalty.selectors import account_get
from apps.surveys.member_selectors import member_surveys

from ..forms import (
    ConsentForm,
    CustomerCreateForm,
    CustomerFilterForm,
    CustomerForm,
    InteractionForm,
    TagAddForm,
)
from ._helpers import PartialResultsMixin, paginate, sort_links
from .loyalty import loyalty_panel_context
from .mixins import StaffRequiredMixin

ORDERS_ON_PAGE = 20
TICKETS_ON_PAGE = 20
INTERACTIONS_ON_PAGE = 50
LEDGER_ON_PAGE = 50
TIMELINE_ON_PAGE = 25  # events a page of the timeline shows; "Show older" reads the next page
CONSENT_LOG_ON_PAGE = 50  # the consent panel's history (its count says how many are listed)
SORTABLE = ("member", "name", "joined")


def customer_or_404(member_number: str) -> Customer:
    try:
        return customer_get(member_number=member_number)
    except CustomerNotFound as exc:
        raise Http404(exc.message) from exc


def detail_url(customer: Customer, anchor: str = "") -> str:
    url = reverse("dashboard:customer-detail", kwargs={"member_number": customer.member_number})
    return f"{url}#{anchor}" if anchor else url


class CustomerListView(StaffRequiredMixin, PartialResultsMixin, TemplateView):
    permission_required = "customers.view_customer"
    template_name = "dashboard/customers/list.html"
    partial_template_name = "dashboard/customers/_results.html"
    results_id = "customer-results"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        tags, stores = list(tag_list()), list(store_list())
        segments = (
            list(segment_list()) if self.request.user.has_perm("analytics.view_segment") else []
        )
        form = CustomerFilterForm(
            self.request.GET or None, tags=tags, stores=stores, segments=segments
        )
        filters = form.filters()
        segment = next((s for s in segments if str(s.pk) == filters["segment"]), None)
        customers = customer_list_for_staff(**{k: v for k, v in filters.items() if k != "segment"})
        if segment is not None:
            # One statement still: the segment is a subquery of the list's own query.
            customers = customers.filter(pk__in=segment_customers(segment.rules).values("pk"))
        context.update(
            form=form,
            filters=filters,
            segment=segment,
            page_obj=paginate(customers, self.request),
            sort=filters["ordering"],
            sort_links=sort_links(filters["ordering"], SORTABLE),
            results_id=self.results_id,
        )
        return context

    def render_to_response(self, context, **response_kwargs):
        response = super().render_to_response(context, **response_kwargs)
        patch_vary_headers(response, ["HX-Request", "HX-Target"])
        return response


class CustomerQuickSearchView(StaffRequiredMixin, TemplateView):
    """htmx: the top bar's search as you type. The best matches as links (name, member number,
    phone) under the box; Enter in the box still opens the full customer list."""

    permission_required = "customers.view_customer"
    template_name = "dashboard/customers/_quick_results.html"
    limit = 8

    def get_context_data(self, **kwargs):
        query = self.request.GET.get("q", "")[:100].strip()
        results, more = customer_quick_search(query=query, limit=self.limit)
        return super().get_context_data(query=query, results=results, more=more, **kwargs)

    def render_to_response(self, context, **response_kwargs):
        response = super().render_to_response(context, **response_kwargs)
        response["Cache-Control"] = "private, no-store"
        return response


def _timeline_before(request) -> dt.datetime | None:
    """The ``before`` of a timeline page from the query string (ISO 8601 with its zone, as the
    "Show older" link writes it); None, the newest page, for anything else."""
    try:
        value = parse_datetime(request.GET.get("before", ""))
    except ValueError:  # well formed, but no such time (month 13, say)
        return None
    return value if value is not None and timezone.is_aware(value) else None


def _orders_panel(customer: Customer, user) -> dict:
    return {
        "orders": order_list_for_customer(
            customer=customer, limit=ORDERS_ON_PAGE, lines_for=ORDERS_ON_PAGE
        ),
        "stats": customer_stats(customer=customer),
    }


def _interactions_panel(customer: Customer, user) -> dict:
    return {"interactions": interaction_list(customer=customer, limit=INTERACTIONS_ON_PAGE)}


def _loyalty_panel(customer: Customer, user) -> dict:
    return loyalty_panel_context(customer, user, ledger_rows=LEDGER_ON_PAGE)


def _surveys_panel(customer: Customer, user) -> dict:
    # Agents see scores; the words of identified members need view_text_answers.
    return {
        "member_surveys": member_surveys(
            customer=customer, show_text=user.has_perm("surveys.view_text_answers")
        )
    }


def _tickets_panel(customer: Customer, user) -> dict:
    return {"member_tickets": list(ticket_list_for_member(customer=customer)[:TICKETS_ON_PAGE])}


@dataclass(frozen=True)
class Panel:
    """A tab of the 360° page beside the timeline: read when it is first shown (its own
    request, ``CustomerPanelView``), or with the page when the URL names it (``?tab=``).
    ``pane``: the id of its pane (``#tab-<pane>`` in a redirect opens it); ``padded``: its
    content is not a full-width table."""

    name: str
    label: str
    icon: str
    pane: str
    permission: str
    template: str
    context: Callable[[Customer, Any], dict]
    padded: bool = True


PANELS = {
    panel.name: panel
    for panel in (
        Panel(
            "loyalty",
            gettext_lazy("Loyalty"),
            "star",
            "loyalty-tab",
            "loyalty.view_loyaltyaccount",
            "dashboard/loyalty/_customer_panel.html",
            _loyalty_panel,
        ),
        Panel(
            "surveys",
            gettext_lazy("Surveys"),
            "chat-square-quote",
            "surveys-tab",
            "surveys.view_response",
            "dashboard/customers/_surveys.html",
            _surveys_panel,
        ),
        Panel(
            "tickets",
            gettext_lazy("Complaints"),
            "life-preserver",
            "tickets-tab",
            "complaints.view_ticket",
            "dashboard/customers/_tickets.html",
            _tickets_panel,
        ),
        Panel(
            "orders",
            gettext_lazy("Orders"),
            "bag",
            "orders",
            "customers.view_order",
            "dashboard/customers/_orders.html",
            _orders_panel,
            padded=False,
        ),
        Panel(
            "interactions",
            gettext_lazy("Interactions"),
            "chat-left-text",
            "interactions",
            "customers.view_interaction",
            "dashboard/customers/_interactions.html",
            _interactions_panel,
            padded=False,
        ),
    )
}


class CustomerDetailView(StaffRequiredMixin, TemplateView):
    """The 360° page: the member's profile, figures, consents and privacy, and the timeline of
    everything that happened, newest first, a page at a time. The other tabs (loyalty, surveys,
    complaints, orders, interactions) are read when first shown, each in its own request
    (``CustomerPanelView``), so the page costs the same whatever the history; ``?tab=<name>``
    opens the page on that tab with it read in. Each part has a fixed number of queries (the
    query budget tests hold them to the same count for one row of each kind as for more than
    any of them shows)."""

    permission_required = "customers.view_customer"
    template_name = "dashboard/customers/detail.html"

    def get(self, request, *args, **kwargs):
        self.customer = customer_or_404(kwargs["member_number"])
        if self.customer.member_number != kwargs["member_number"]:
            # An old card's number: the record was merged into this customer.
            messages.info(
                request,
                _("Member %(old)s was merged into %(new)s.")
                % {"old": kwargs["member_number"], "new": self.customer.member_number},
            )
            return redirect(detail_url(self.customer))
        return super().get(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        customer = self.customer
        user = self.request.user
        # The portal and privacy panel (account, verified e-mails, consent history, privacy
        # audit trail; Export / Erase by permission). Its consent reads serve the consent
        # panel too, so the page does not run them twice.
        privacy = customer_privacy_summary(customer=customer, history_limit=CONSENT_LOG_ON_PAGE)
        tags = tag_list_for_customer(customer=customer)
        panels = [p for p in PANELS.values() if user.has_perm(p.permission)]
        tab = self.request.GET.get("tab", "")
        opened = next((p for p in panels if p.name == tab), None)
        context.update(
            customer=customer,
            tags=tags,
            possible_duplicate=any(t.name.lower() == REVIEW_TAG for t in tags),
            stats=customer_stats(customer=customer),
            tag_form=TagAddForm(),
            interaction_form=InteractionForm(),
            consent_form=ConsentForm(),
            privacy=privacy,
            panels=panels,
            tab=opened.name if opened else "timeline",
            timeline=timeline_page(
                customer, limit=TIMELINE_ON_PAGE, before=_timeline_before(self.request)
            ),
        )
        if opened is not None:
            context.update(opened.context(customer, user))
            context["opened_template"] = opened.template
        if user.has_perm("customers.view_consentrecord"):
            context["consent_grid"] = _consent_grid(privacy.consents)
            context["consent_log"] = privacy.consent_history
        if user.has_perm("loyalty.view_loyaltyaccount"):
            # The figures' balance, pending points and tier: the account row as it stands.
            context["points"] = account_get(customer=customer)
        if user.has_perm("analytics.view_customermetrics"):
            metrics = metrics_for(customer=customer)
            context["metrics"] = metrics
            context["metrics_reasons"] = reasons_text(metrics.reasons) if metrics else []
        if context["possible_duplicate"] and user.has_perm("customers.merge_customer"):
            context["duplicate_url"] = _duplicate_url(customer)
        return context


class CustomerPanelView(StaffRequiredMixin, TemplateView):
    """One tab of the 360° page on its own (the page loads it when the tab is first shown), or
    the next page of the timeline (``timeline``, from ``?before=``). 404 for a tab the user may
    not see."""

    permission_required = "customers.view_customer"

    def get_template_names(self):
        if self.kwargs["panel"] == "timeline":
            return ["dashboard/customers/_timeline.html"]
        return [self.panel.template]

    @cached_property
    def panel(self) -> Panel:
        panel = PANELS.get(self.kwargs["panel"])
        if panel is None or not self.request.user.has_perm(panel.permission):
            raise Http404(_("No such tab."))
        return panel

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        customer = customer_or_404(self.kwargs["member_number"])
        context["customer"] = customer
        if self.kwargs["panel"] == "timeline":
            context["timeline"] = timeline_page(
                customer, limit=TIMELINE_ON_PAGE, before=_timeline_before(self.request)
            )
            context["timeline_more"] = True
            return context
        context.update(self.panel.context(customer, self.request.user))
        return context

    def render_to_response(self, context, **response_kwargs):
        response = super().render_to_response(context, **response_kwargs)
        response["Cache-Control"] = "private, no-store"
        return response


def _duplicate_url(customer: Customer) -> str:
    """Where the "possible duplicate" hint leads: the merge page when there is one twin, the
    duplicates list of this customer otherwise."""
    pairs = duplicate_candidates(customer=customer)[:2]
    if len(pairs) == 1:
        return reverse(
            "dashboard:customer-merge",
            kwargs={"first": pairs[0].first.member_number, "second": pairs[0].second.member_number},
        )
    return f"{reverse('dashboard:duplicate-list')}?member={customer.member_number}"


def _consent_grid(current: dict) -> list[dict]:
    """Rows per channel, one cell per purpose, for the consent panel."""
    return [
        {
            "channel": channel.label,
            "cells": [
                {"purpose": purpose.label, "record": current[(channel.value, purpose.value)]}
                for purpose in ConsentPurpose
            ],
        }
        for channel in Channel
    ]


class CustomerCreateView(StaffRequiredMixin, FormView):
    permission_required = "customers.add_customer"
    form_class = CustomerCreateForm
    template_name = "dashboard/customers/form.html"

    def form_valid(self, form):
        try:
            customer = customer_create(
                actor=self.request.user,
                source=Source.STAFF,
                consents=form.consents(),
                consent_source="staff",
                **form.profile(),
            )
        except ApplicationError as exc:
            add_service_error(form, exc)
            return self.form_invalid(form)
        messages.success(
            self.request,
            _("Customer %(name)s enrolled with member number %(number)s.")
            % {"name": customer.display_name, "number": customer.member_number},
        )
        return redirect(detail_url(customer))


class CustomerEditView(StaffRequiredMixin, FormView):
    permission_required = "customers.change_customer"
    form_class = CustomerForm
    template_name = "dashboard/customers/form.html"

    @cached_property
    def customer(self) -> Customer:
        return customer_or_404(self.kwargs["member_number"])

    def get_initial(self):
        c = self.customer
        return {
            "first_name": c.first_name,
            "last_name": c.last_name,
            "email": c.email,
            "phone": c.phone,
            "birth_date": c.birth_date,
            "gender": c.gender,
            "city": c.city,
            "region": c.region,
            "preferred_language": c.preferred_language,
            "preferred_channel": c.preferred_channel,
            "store": c.store.code if c.store else None,
        }

    def get_form_kwargs(self):
        return super().get_form_kwargs() | {"customer": self.customer}

    def get_context_data(self, **kwargs):
        return super().get_context_data(customer=self.customer, **kwargs)

    def form_valid(self, form):
        try:
            customer_update(customer=self.customer, actor=self.request.user, **form.cleaned_data)
        except ApplicationError as exc:
            add_service_error(form, exc)
            return self.form_invalid(form)
        messages.success(self.request, _("Profile saved."))
        return redirect(detail_url(self.customer))


class CustomerActionView(StaffRequiredMixin, View):
    """A POST from the 360° page: validate, call one service, come back with a message."""

    http_method_names = ["post"]
    form_class = None
    anchor = ""

    def perform(self, customer: Customer, form) -> str:
        raise NotImplementedError

    def post(self, request, member_number: str, **kwargs) -> HttpResponseRedirect:
        customer = customer_or_404(member_number)
        form = self.form_class(request.POST) if self.form_class else None
        if form is not None and not form.is_valid():
            for errors in form.errors.values():
                for error in errors:
                    messages.error(request, error)
            return redirect(detail_url(customer, self.anchor))
        try:
            message = self.perform(customer, form)
        except ApplicationError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, message)
        return redirect(detail_url(customer, self.anchor))


class TagAddView(CustomerActionView):
    permission_required = "customers.tag_customer"
    form_class = TagAddForm

    def perform(self, customer, form) -> str:
        tag = customer_tag_add(
            customer=customer, name=form.cleaned_data["name"], actor=self.request.user
        )
        return _("Tagged “%(tag)s”.") % {"tag": tag.name}


class TagRemoveView(CustomerActionView):
    permission_required = "customers.tag_customer"

    def perform(self, customer, form) -> str:
        tag = tag_get(pk=self.kwargs["tag_id"])
        if tag is None:
            raise Http404(_("No such tag."))
        customer_tag_remove(customer=customer, tag=tag, actor=self.request.user)
        return _("Removed tag “%(tag)s”.") % {"tag": tag.name}


class InteractionCreateView(CustomerActionView):
    permission_required = "customers.add_interaction"
    form_class = InteractionForm
    anchor = "tab-interactions"  # opens the Interactions tab (see static/js/dashboard.js)

    def perform(self, customer, form) -> str:
        interaction_log(customer=customer, actor=self.request.user, **form.cleaned_data)
        return _("Interaction logged.")


class ConsentUpdateView(CustomerActionView):
    permission_required = "customers.add_consentrecord"
    form_class = ConsentForm
    anchor = "consent"

    def perform(self, customer, form) -> str:
        data = form.cleaned_data
        consent_record(
            customer=customer,
            channel=data["channel"],
            purpose=data["purpose"],
            granted=form.is_granted,
            source="staff",
            actor=self.request.user,
            evidence=data["evidence"],
        )
        return _("Consent recorded.")
