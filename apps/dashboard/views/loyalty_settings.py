"""Staff page for the programme's settings (earn rate, point value, expiry, bonuses). Views
validate, call a service, and render; every rule lives in ``apps.loyalty``."""

from django.urls import reverse
from django.utils.translation import gettext_lazy

from apps.loyalty.models import Programme
from apps.loyalty.services.configuration import programme_update

from ..forms_loyalty import ProgrammeForm
from .form_page import FormPageView


class ProgrammeEditView(FormPageView):
    permission_required = "loyalty.change_programme"
    form_class = ProgrammeForm
    title = gettext_lazy("Programme settings")
    success_message = gettext_lazy("Programme settings saved.")

    def get_form_kwargs(self):
        return {"instance": Programme.get()}

    def save(self, form):
        programme_update(actor=self.request.user, **form.cleaned_data)

    def get_success_url(self):
        return reverse("dashboard:loyalty-programme")
