"""Staff pages for the reward catalogue: list, create, edit and stock. Views validate, call a
selector or service, and render; every rule lives in ``apps.loyalty``."""

from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.generic import TemplateView

from apps.loyalty.enums import RewardKind
from apps.loyalty.models import Reward
from apps.loyalty.services.configuration import reward_create, reward_restock, reward_update
from apps.loyalty.staff_selectors import reward_list_for_staff

from ..forms_loyalty import RestockForm, RewardCreateForm, RewardForm
from ..list_filters import reward_filters_parse
from ._helpers import paginate
from .export_jobs import SourceExportView
from .form_page import FormPageView
from .mixins import StaffRequiredMixin


class RewardListView(StaffRequiredMixin, TemplateView):
    permission_required = "loyalty.view_reward"
    template_name = "dashboard/loyalty/rewards.html"

    def get_context_data(self, **kwargs):
        filters = reward_filters_parse(self.request.GET)
        return super().get_context_data(
            page_obj=paginate(reward_list_for_staff(**filters), self.request),
            query=filters["query"],
            kind=filters["kind"],
            kinds=RewardKind.choices,
            **kwargs,
        )


class RewardExportView(SourceExportView):
    kind = "rewards"


class RewardCreateView(FormPageView):
    permission_required = "loyalty.add_reward"
    form_class = RewardCreateForm
    title = gettext_lazy("New reward")
    success_message = gettext_lazy("Reward created.")
    multipart = True

    def save(self, form):
        reward_create(actor=self.request.user, **form.cleaned_data)

    def get_success_url(self):
        return reverse("dashboard:loyalty-reward-list")


class RewardEditView(FormPageView):
    permission_required = "loyalty.change_reward"
    form_class = RewardForm
    success_message = gettext_lazy("Reward saved.")
    multipart = True

    def dispatch(self, request, *args, **kwargs):
        self.reward = get_object_or_404(Reward, pk=kwargs["pk"])
        return super().dispatch(request, *args, **kwargs)

    @property
    def title(self):
        return _("Edit reward %(name)s") % {"name": self.reward.name}

    def get_form_kwargs(self):
        return {"instance": self.reward}

    def save(self, form):
        reward_update(reward=self.reward, actor=self.request.user, **form.cleaned_data)

    def get_success_url(self):
        return reverse("dashboard:loyalty-reward-list")


class RewardRestockView(FormPageView):
    permission_required = "loyalty.change_reward"
    form_class = RestockForm
    submit_label = gettext_lazy("Update stock")
    success_message = gettext_lazy("Stock updated.")

    def dispatch(self, request, *args, **kwargs):
        self.reward = get_object_or_404(Reward, pk=kwargs["pk"])
        return super().dispatch(request, *args, **kwargs)

    @property
    def title(self):
        return _("Stock of %(name)s") % {"name": self.reward.name}

    def get_context_data(self, **kwargs):
        stock = self.reward.stock
        subtitle = (
            _("Unlimited") if stock is None else _("%(n)s in stock now") % {"n": f"{stock:,}"}
        )
        return super().get_context_data(subtitle=subtitle, **kwargs)

    def save(self, form):
        reward_restock(
            reward=self.reward,
            actor=self.request.user,
            add=form.cleaned_data.get("add"),
            unlimited=form.cleaned_data.get("unlimited", False),
        )

    def get_success_url(self):
        return reverse("dashboard:loyalty-reward-list")
