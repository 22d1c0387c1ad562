"""Segments (/staff/segments/): the list, the builder with a live count (htmx), a segment's
matching customers, export, freeze into a snapshot, delete. The rules are checked and the
writes made by ``apps.analytics`` (one service for every way in)."""

import json

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View
from django.views.generic import TemplateView

from apps.analytics.exceptions import InvalidRules, SegmentNotFound
from apps.analytics.rules.compiler import EMPTY, segment_customers
from apps.analytics.rules.fields import FIELDS, GROUPS
from apps.analytics.selectors import segment_get, segment_list
from apps.analytics.services.segments import segment_delete, segment_freeze, segment_save
from apps.core.exceptions import ApplicationError
from apps.core.forms import add_service_error

from ..forms_segments import FreezeForm, SegmentForm
from ._helpers import paginate
from .export_jobs import SourceExportView
from .mixins import StaffRequiredMixin

SAMPLE = 10


def segment_or_404(pk: int):
    try:
        return segment_get(pk=pk)
    except SegmentNotFound as exc:
        raise Http404(exc.message) from exc


OPERATORS = {
    "eq": gettext_lazy("is"),
    "ne": gettext_lazy("is not"),
    "in": gettext_lazy("is one of"),
    "not_in": gettext_lazy("is none of"),
    "gt": gettext_lazy("more than"),
    "gte": gettext_lazy("at least"),
    "lt": gettext_lazy("less than"),
    "lte": gettext_lazy("at most"),
    "between": gettext_lazy("between"),
    "contains": gettext_lazy("contains"),
    "has": gettext_lazy("has"),
    "has_not": gettext_lazy("does not have"),
}


def builder_catalogue() -> dict:
    """What the builder offers: fields by group with their operators, value kind and choices,
    and the operators' words, in the reader's language."""
    return {
        "groups": [{"code": code, "label": str(label)} for code, label in GROUPS.items()],
        "fields": [
            {
                "name": f.name,
                "group": f.group,
                "label": str(f.label),
                "kind": f.kind,
                "ops": list(f.ops),
                "days": f.days,
                "min": f.minimum,
                "max": f.maximum,
                "choices": [[c, str(label)] for c, label in f.choices()] if f.choices else None,
            }
            for f in FIELDS.values()
        ],
        "ops": {code: str(label) for code, label in OPERATORS.items()},
        "words": {
            "all": _("all of"),
            "any": _("any of"),
            "none": _("none of"),
            "add": _("Add a condition"),
            "group": _("Add a group"),
            "remove": _("Remove"),
            "days": _("in the last … days"),
            "within": _("within … days"),
            "yes": _("yes"),
            "no": _("no"),
            "and": _("and"),
            "empty": _("No conditions: every customer matches."),
        },
    }


class SegmentListView(StaffRequiredMixin, TemplateView):
    permission_required = "analytics.view_segment"
    template_name = "dashboard/segments/list.html"

    def get_context_data(self, **kwargs):
        return super().get_context_data(segments=list(segment_list()), **kwargs)


class SegmentListExportView(SourceExportView):
    kind = "segments"


class _SegmentFormView(StaffRequiredMixin, TemplateView):
    template_name = "dashboard/segments/form.html"
    segment = None

    def get_form(self, data=None):
        return SegmentForm(data, instance=self.segment or None)

    def get_context_data(self, **kwargs):
        kwargs.setdefault("form", self.get_form())
        return super().get_context_data(
            segment=self.segment, catalogue=builder_catalogue(), **kwargs
        )

    def post(self, request, *args, **kwargs):
        form = self.get_form(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                segment = segment_save(
                    actor=request.user,
                    rules=data["rules"],
                    names={k: data[k] for k in ("name_en", "name_zh_hans")},
                    descriptions={k: data[k] for k in ("description_en", "description_zh_hans")},
                    segment=self.segment,
                )
            except InvalidRules as exc:
                form.add_error("rules", exc.message)
            except ApplicationError as exc:
                add_service_error(form, exc)
            else:
                messages.success(
                    request, _("Segment saved: %(n)s customers match.") % {"n": segment.last_count}
                )
                return redirect("dashboard:segment-detail", pk=segment.pk)
        return self.render_to_response(self.get_context_data(form=form), status=400)


class SegmentCreateView(_SegmentFormView):
    permission_required = "analytics.add_segment"


class SegmentEditView(_SegmentFormView):
    permission_required = "analytics.change_segment"

    def dispatch(self, request, *args, **kwargs):
        self.segment = segment_or_404(pk=kwargs["pk"])
        return super().dispatch(request, *args, **kwargs)


class SegmentCountView(StaffRequiredMixin, View):
    """The live count under the builder (htmx): POST ``rules`` → the count and a sample, or
    the reason the rules are refused (no query runs then)."""

    permission_required = "analytics.view_segment"

    def post(self, request):
        context = {"error": "", "count": None, "sample": []}
        try:
            raw = request.POST.get("rules", "").strip()
            rules = json.loads(raw) if raw else EMPTY
            qs = segment_customers(rules)
        except ValueError:
            context["error"] = _("The rules are not valid JSON.")
        except InvalidRules as exc:
            context["error"] = exc.message
        else:
            context["count"] = qs.count()
            context["sample"] = list(qs.order_by("pk")[:SAMPLE])
        return render(request, "dashboard/segments/_count.html", context)


class SegmentDetailView(StaffRequiredMixin, TemplateView):
    permission_required = "analytics.view_segment"
    template_name = "dashboard/segments/detail.html"

    def get_context_data(self, **kwargs):
        segment = segment_or_404(pk=self.kwargs["pk"])
        customers = segment_customers(segment.rules).select_related("metrics").order_by("pk")
        page = paginate(customers, self.request)
        return super().get_context_data(
            segment=segment,
            page_obj=page,
            snapshots=list(segment.snapshots.select_related("taken_by")[:10]),
            freeze_form=FreezeForm(),
            rules_text=json.dumps(segment.rules, ensure_ascii=False, indent=2),
            **kwargs,
        )


class SegmentFreezeView(StaffRequiredMixin, View):
    permission_required = "analytics.add_segmentsnapshot"

    def post(self, request, pk):
        segment = segment_or_404(pk=pk)
        form = FreezeForm(request.POST)
        if form.is_valid():
            snapshot = segment_freeze(
                segment=segment, actor=request.user, note=form.cleaned_data["note"]
            )
            messages.success(
                request, _("Snapshot taken: %(n)s customers frozen.") % {"n": snapshot.size}
            )
        return redirect("dashboard:segment-detail", pk=segment.pk)


class SegmentDeleteView(StaffRequiredMixin, View):
    permission_required = "analytics.delete_segment"

    def post(self, request, pk):
        segment = segment_or_404(pk=pk)
        try:
            segment_delete(segment=segment, actor=request.user)
        except ApplicationError as exc:
            messages.error(request, exc.message)
            return redirect("dashboard:segment-detail", pk=segment.pk)
        messages.success(request, _("Segment deleted."))
        return redirect(reverse("dashboard:segment-list"))


class SegmentExportView(SourceExportView):
    kind = "segment"

    def get(self, request, pk):
        segment_or_404(pk=pk)
        return super().get(request, pk=pk)
