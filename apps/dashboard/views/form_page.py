"""The form page every simple staff form uses: GET shows the form, POST validates and hands
``cleaned_data`` to a service; a refusal from the service shows on the form."""

from django.contrib import messages
from django.shortcuts import redirect
from django.utils.translation import gettext_lazy
from django.views.generic import TemplateView

from apps.core.exceptions import ApplicationError
from apps.core.forms import add_service_error

from .mixins import StaffRequiredMixin

FORM_TEMPLATE = "dashboard/loyalty/form.html"


class FormPageView(StaffRequiredMixin, TemplateView):
    """GET shows the form; POST validates and hands ``cleaned_data`` to ``save``. A refusal from
    the service shows on the form and nothing changes."""

    template_name = FORM_TEMPLATE
    form_class = None
    title = ""
    submit_label = gettext_lazy("Save")
    success_message = gettext_lazy("Saved.")
    multipart = False

    def get_form_kwargs(self) -> dict:
        return {}

    def get_form(self, data=None, files=None):
        return self.form_class(data, files, **self.get_form_kwargs())

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.setdefault("form", self.get_form())
        context.update(
            title=self.title,
            submit_label=self.submit_label,
            cancel_url=self.get_cancel_url(),
            multipart=self.multipart,
        )
        return context

    def get_cancel_url(self) -> str:
        return self.get_success_url()

    def post(self, request, *args, **kwargs):
        form = self.get_form(request.POST, request.FILES)
        if form.is_valid():
            try:
                self.save(form)
            except ApplicationError as exc:
                add_service_error(form, exc)
            else:
                messages.success(request, self.success_message)
                return redirect(self.get_success_url())
        return self.render_to_response(self.get_context_data(form=form), status=400)

    def save(self, form) -> None:
        raise NotImplementedError

    def get_success_url(self) -> str:
        raise NotImplementedError
