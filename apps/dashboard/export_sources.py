"""Every list's export in one table: what it is called, who may take it, which filters of the
list it reads, how many rows it would write and the audited rows themselves (from the domain
app's export service).

The list's export view and the background worker both go through here
(``apps.dashboard.exporting``), so a file written by a worker is exactly the file the request
would have streamed: the same filters read the same way, the same service, the same audit row.
``size`` is None for lists that cannot grow large (configuration lists): those always stream.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import BadRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.analytics.exports import segment_export
from apps.analytics.rules.compiler import segment_customers
from apps.analytics.selectors import segment_get
from apps.campaigns.exports import campaign_messages_export, campaign_messages_queryset
from apps.campaigns.models import Campaign
from apps.complaints.exports import tickets_export
from apps.complaints.queue_filters import QUEUE_FILTER_KEYS, queue_filters_parse
from apps.complaints.staff_selectors import ticket_queue
from apps.core.audit import audit_export_bound, audit_list
from apps.core.audit_export import audit_export
from apps.core.exports import ExportRows
from apps.customers.exports import customers_export_rows, orders_export_rows
from apps.customers.selectors import customer_list, order_list
from apps.surveys.analysis import response_qs
from apps.surveys.exports import responses_export_rows
from apps.surveys.models import Survey

from .export_sources_lists import LIST_SOURCES
from .forms_audit import AuditFilterForm
from .forms_surveys import survey_period

Params = Mapping[str, str]


@dataclass(frozen=True)
class ExportSource:
    title: Any  # a lazy translation: the sheet's title and the job page's heading
    basename: str  # the file name's stem
    permissions: tuple[str, ...]
    keys: tuple[str, ...]  # the list's filters (query string) the export reads
    rows: Callable[[Params, Any, str], ExportRows]  # (params, actor, fmt) -> audited rows
    size: Callable[[Params, Any], int] | None = None  # rows it would write; None: always small
    # The file name's stem when it names the record (a survey's slug, a campaign's number).
    stem: Callable[[Params], str] | None = None

    def file_stem(self, params: Params) -> str:
        return self.stem(params) if self.stem is not None else self.basename


# --- customers and orders -------------------------------------------------------------------------

CUSTOMER_KEYS = ("q", "tag", "store", "source", "portal", "sort")


def _customer_filters(p: Params) -> dict[str, str]:
    return {
        "query": p.get("q", ""),
        "tag": p.get("tag", ""),
        "store": p.get("store", ""),
        "source": p.get("source", ""),
        "portal": p.get("portal", ""),
        "ordering": p.get("sort", "") or "-joined",
    }


def _customers_rows(p: Params, actor, fmt: str) -> ExportRows:
    return customers_export_rows(actor=actor, fmt=fmt, **_customer_filters(p))


def _customers_size(p: Params, actor) -> int:
    return customer_list(**_customer_filters(p)).count()


def _orders_rows(p: Params, actor, fmt: str) -> ExportRows:
    return orders_export_rows(actor=actor, fmt=fmt, query=p.get("q", ""), store=p.get("store", ""))


def _orders_size(p: Params, actor) -> int:
    return order_list(query=p.get("q", ""), store=p.get("store", "")).count()


# --- the audit trail ------------------------------------------------------------------------------

AUDIT_KEYS = ("actor", "action", "target_type", "target_id", "date_from", "date_to")


def _audit_form(p: Params) -> AuditFilterForm:
    form = AuditFilterForm(dict(p))
    if not form.is_valid():
        raise BadRequest  # the page says why; an export of "everything" would mislead
    return form


def _audit_rows(p: Params, actor, fmt: str) -> ExportRows:
    form = _audit_form(p)
    return audit_export(actor=actor, fmt=fmt, filters=form.filters(), described=form.described())


def _audit_size(p: Params, actor) -> int:
    form = _audit_form(p)
    return audit_list(filters=form.filters()).filter(id__lte=audit_export_bound()).count()


# --- segments -------------------------------------------------------------------------------------


def _segment_rows(p: Params, actor, fmt: str) -> ExportRows:
    segment = segment_get(pk=int(p["pk"]))
    return segment_export(
        segment=segment, qs=segment_customers(segment.rules), actor=actor, fmt=fmt
    )


def _segment_size(p: Params, actor) -> int:
    return segment_customers(segment_get(pk=int(p["pk"])).rules).count()


# --- the complaint queue --------------------------------------------------------------------------


def _ticket_qs(p: Params, actor):
    filters = queue_filters_parse(p, user=actor)
    return filters, ticket_queue(user=actor, filters=filters, now=timezone.now())


def _tickets_rows(p: Params, actor, fmt: str) -> ExportRows:
    filters, qs = _ticket_qs(p, actor)
    return tickets_export(qs=qs, actor=actor, fmt=fmt, filters=vars(filters))


def _tickets_size(p: Params, actor) -> int:
    return _ticket_qs(p, actor)[1].count()


# --- a campaign's messages -----------------------------------------------------------------------


def _campaign(p: Params) -> Campaign:
    return Campaign.objects.get(pk=int(p["pk"]))


def _campaign_messages_rows(p: Params, actor, fmt: str) -> ExportRows:
    return campaign_messages_export(campaign=_campaign(p), actor=actor, fmt=fmt)


def _campaign_messages_size(p: Params, actor) -> int:
    return campaign_messages_queryset(campaign=_campaign(p)).count()


# --- a survey's responses -------------------------------------------------------------------------


def _survey_responses(p: Params):
    survey = Survey.objects.get(pk=int(p["pk"]))
    _form, since, until, _by = survey_period(p)
    filters = {
        "since": since.isoformat() if since else "",
        "until": until.isoformat() if until else "",
    }
    return survey, response_qs(survey=survey, since=since, until=until), filters


def _survey_responses_stem(p: Params) -> str:
    slug = Survey.objects.filter(pk=int(p["pk"])).values_list("slug", flat=True).first()
    return f"survey-{slug}-responses" if slug else "survey-responses"


def _survey_responses_rows(p: Params, actor, fmt: str) -> ExportRows:
    survey, qs, filters = _survey_responses(p)
    return responses_export_rows(
        survey=survey,
        actor=actor,
        fmt=fmt,
        qs=qs,
        identified=actor.has_perm("surveys.view_text_answers"),
        filters=filters,
    )


def _survey_responses_size(p: Params, actor) -> int:
    return _survey_responses(p)[1].count()


SOURCES: dict[str, ExportSource] = {
    "customers": ExportSource(
        title=_("Customers"),
        basename="customers",
        permissions=("customers.export_customer",),
        keys=CUSTOMER_KEYS,
        rows=_customers_rows,
        size=_customers_size,
    ),
    "orders": ExportSource(
        title=_("Orders"),
        basename="orders",
        permissions=("customers.export_order",),
        keys=("q", "store"),
        rows=_orders_rows,
        size=_orders_size,
    ),
    "audit": ExportSource(
        title=_("Audit trail"),
        basename="audit-trail",
        permissions=("core.view_auditevent",),
        keys=AUDIT_KEYS,
        rows=_audit_rows,
        size=_audit_size,
    ),
    "segment": ExportSource(
        title=_("Segment"),
        basename="segment",
        permissions=("analytics.view_segment",),
        keys=(),
        rows=_segment_rows,
        size=_segment_size,
    ),
    "tickets": ExportSource(
        title=_("Complaints"),
        basename="complaints",
        permissions=("complaints.view_ticket", "complaints.view_complaint_reports"),
        keys=QUEUE_FILTER_KEYS,
        rows=_tickets_rows,
        size=_tickets_size,
    ),
    "campaign_messages": ExportSource(
        title=_("Campaign messages"),
        basename="campaign-messages",
        stem=lambda p: f"campaign-{p['pk']}-messages",
        permissions=(
            "campaigns.view_campaign",
            "campaigns.view_message",
            "campaigns.view_campaign_results",
        ),
        keys=(),
        rows=_campaign_messages_rows,
        size=_campaign_messages_size,
    ),
    "survey_responses": ExportSource(
        title=_("Survey responses"),
        basename="survey-responses",
        stem=_survey_responses_stem,
        permissions=("surveys.view_survey", "surveys.export_responses"),
        keys=("since", "until"),
        rows=_survey_responses_rows,
        size=_survey_responses_size,
    ),
}

# The loyalty lists, the campaign list and the segment list (``export_sources_lists``).
SOURCES.update({kind: ExportSource(**spec) for kind, spec in LIST_SOURCES.items()})
