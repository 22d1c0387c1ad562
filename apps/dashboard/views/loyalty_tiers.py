"""Staff pages for tiers: the ladder with its members, create and edit. Views validate, call a
selector or service, and render; every rule lives in ``apps.loyalty``."""

from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.generic import TemplateView

from apps.loyalty.models import Tier
from apps.loyalty.services import tier_create
from apps.loyalty.services.configuration import tier_update
from apps.loyalty.services.tiers import TIER_CREATE_FIELDS
from apps.loyalty.staff_selectors import tier_list_with_members, tier_new_defaults

from ..forms_loyalty import TierForm
from .export_jobs import SourceExportView
from .form_page import FormPageView
from .mixins import StaffRequiredMixin


class TierListView(StaffRequiredMixin, TemplateView):
    permission_required = "loyalty.view_tier"
    template_name = "dashboard/loyalty/tiers.html"

    def get_context_data(self, **kwargs):
        return super().get_context_data(tiers=list(tier_list_with_members()), **kwargs)


class TierExportView(SourceExportView):
    kind = "tiers"


class TierCreateForm(TierForm):
    """The edit form plus the two values fixed at creation: the code (the API and reports name
    the tier by it) and the rank (its place on the ladder)."""

    class Meta(TierForm.Meta):
        fields = TIER_CREATE_FIELDS


class TierCreateView(FormPageView):
    permission_required = "loyalty.add_tier"
    form_class = TierCreateForm
    title = gettext_lazy("New tier")
    submit_label = gettext_lazy("Create tier")
    success_message = gettext_lazy("Tier created.")

    def get_form_kwargs(self):
        return {"initial": tier_new_defaults()}

    def save(self, form):
        tier_create(actor=self.request.user, **form.cleaned_data)

    def get_success_url(self):
        return reverse("dashboard:loyalty-tier-list")


class TierEditView(FormPageView):
    permission_required = "loyalty.change_tier"
    form_class = TierForm
    success_message = gettext_lazy("Tier saved.")

    def dispatch(self, request, *args, **kwargs):
        self.tier = get_object_or_404(Tier, pk=kwargs["pk"])
        return super().dispatch(request, *args, **kwargs)

    @property
    def title(self):
        return _("Edit tier %(name)s") % {"name": self.tier.name}

    def get_form_kwargs(self):
        return {"instance": self.tier}

    def save(self, form):
        tier_update(tier=self.tier, actor=self.request.user, **form.cleaned_data)

    def get_success_url(self):
        return reverse("dashboard:loyalty-tier-list")
