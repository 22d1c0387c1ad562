"""Outbound webhooks (/staff/integrations/), Administrators only: endpoints with their health,
create and change them, reveal or rotate the signing secret, send a test event, enable one the
sender switched off, read each endpoint's delivery log and a delivery, replay a failed one.
Views validate, call an integrations selector or service, and render."""

import json

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View
from django.views.generic import TemplateView

from apps.core.exceptions import ApplicationError
from apps.integrations.catalogue import event_label
from apps.integrations.selectors import (
    delivery_get,
    delivery_list,
    endpoint_get,
    endpoint_list,
)
from apps.integrations.services import (
    delivery_replay,
    endpoint_create,
    endpoint_disable,
    endpoint_enable,
    endpoint_secret_reveal,
    endpoint_secret_rotate,
    endpoint_test_send,
    endpoint_update,
)

from ..forms_integrations import DeliveryFilterForm, EndpointForm
from ._helpers import paginate
from .form_page import FormPageView
from .mixins import AdministratorRequiredMixin

SECRET_SESSION_KEY = "integrations.secret"  # noqa: S105 (a session key name)


def _endpoint_or_404(pk: int):
    endpoint = endpoint_get(pk=pk)
    if endpoint is None:
        raise Http404
    return endpoint


def _secret_show_once(request, endpoint, secret: str) -> None:
    """Keep the secret for the next page of this session only (not in a message: it is shown in
    its own box, once)."""
    request.session[SECRET_SESSION_KEY] = {"endpoint": endpoint.pk, "secret": secret}


class EndpointListView(AdministratorRequiredMixin, TemplateView):
    template_name = "dashboard/integrations/list.html"

    def get_context_data(self, **kwargs):
        endpoints = list(endpoint_list())
        return super().get_context_data(
            rows=[
                {"endpoint": e, "events": [event_label(n) for n in e.event_types]}
                for e in endpoints
            ],
            disabled=[e for e in endpoints if e.disabled_automatically],
            **kwargs,
        )


class EndpointCreateView(AdministratorRequiredMixin, FormPageView):
    form_class = EndpointForm
    template_name = "dashboard/integrations/form.html"
    title = gettext_lazy("New webhook endpoint")
    submit_label = gettext_lazy("Create")
    success_message = gettext_lazy("Endpoint created. Copy its signing secret now.")

    def save(self, form):
        self.endpoint, secret = endpoint_create(actor=self.request.user, **form.cleaned_data)
        _secret_show_once(self.request, self.endpoint, secret)

    def get_success_url(self):
        return reverse("dashboard:integration-detail", kwargs={"pk": self.endpoint.pk})

    def get_cancel_url(self):
        return reverse("dashboard:integration-list")


class EndpointEditView(AdministratorRequiredMixin, FormPageView):
    form_class = EndpointForm
    template_name = "dashboard/integrations/form.html"
    title = gettext_lazy("Change webhook endpoint")

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated and self.has_permission():
            self.endpoint = _endpoint_or_404(kwargs["pk"])
        return super().dispatch(request, *args, **kwargs)

    def get_form(self, data=None, files=None):
        e = self.endpoint
        initial = {"url": e.url, "description": e.description, "event_types": e.event_types}
        return self.form_class(data, files, initial=initial)

    def save(self, form):
        endpoint_update(endpoint=self.endpoint, actor=self.request.user, **form.cleaned_data)

    def get_success_url(self):
        return reverse("dashboard:integration-detail", kwargs={"pk": self.endpoint.pk})


class EndpointDetailView(AdministratorRequiredMixin, TemplateView):
    """The endpoint, its health, and its delivery log (newest first, by status, paged)."""

    template_name = "dashboard/integrations/detail.html"

    def get_context_data(self, **kwargs):
        endpoint = _endpoint_or_404(self.kwargs["pk"])
        form = DeliveryFilterForm(self.request.GET or None)
        status = form.status_value()
        page_obj = paginate(delivery_list(endpoint=endpoint, status=status), self.request)
        shown = self.request.session.pop(SECRET_SESSION_KEY, None)
        secret = shown["secret"] if shown and shown.get("endpoint") == endpoint.pk else None
        return super().get_context_data(
            endpoint=endpoint,
            events=[event_label(n) for n in endpoint.event_types],
            form=form,
            status=status,
            page_obj=page_obj,
            deliveries=[(d, event_label(d.event_name)) for d in page_obj.object_list],
            secret=secret,
            **kwargs,
        )


class _EndpointAction(AdministratorRequiredMixin, View):
    """POST only: one service call on an endpoint, a message, back to the endpoint."""

    def post(self, request, pk):
        endpoint = _endpoint_or_404(pk)
        try:
            message = self.act(request, endpoint)
        except ApplicationError as exc:
            messages.error(request, exc.message)
        else:
            if message:
                messages.success(request, message)
        return redirect("dashboard:integration-detail", pk=endpoint.pk)

    def act(self, request, endpoint) -> str:
        raise NotImplementedError


class EndpointSecretRevealView(_EndpointAction):
    def act(self, request, endpoint) -> str:
        _secret_show_once(
            request, endpoint, endpoint_secret_reveal(endpoint=endpoint, actor=request.user)
        )
        return ""


class EndpointSecretRotateView(_EndpointAction):
    def act(self, request, endpoint) -> str:
        _secret_show_once(
            request, endpoint, endpoint_secret_rotate(endpoint=endpoint, actor=request.user)
        )
        return _(
            "New signing secret made; the old one no longer signs. Give the receiver the new one."
        )


class EndpointTestView(_EndpointAction):
    def act(self, request, endpoint) -> str:
        endpoint_test_send(endpoint=endpoint, actor=request.user)
        return _("Test event sent; its result is at the top of the delivery log.")


class EndpointEnableView(_EndpointAction):
    def act(self, request, endpoint) -> str:
        endpoint_enable(endpoint=endpoint, actor=request.user)
        return _("Endpoint enabled; its waiting deliveries are being sent.")


class EndpointDisableView(_EndpointAction):
    def act(self, request, endpoint) -> str:
        endpoint_disable(endpoint=endpoint, actor=request.user)
        return _("Endpoint paused; no deliveries are made for it until it is enabled.")


def _delivery_or_404(pk: int, delivery_id):
    endpoint = _endpoint_or_404(pk)
    delivery = delivery_get(endpoint=endpoint, pk=delivery_id)
    if delivery is None:
        raise Http404
    return endpoint, delivery


class DeliveryDetailView(AdministratorRequiredMixin, TemplateView):
    template_name = "dashboard/integrations/delivery.html"

    def get_context_data(self, **kwargs):
        endpoint, delivery = _delivery_or_404(self.kwargs["pk"], self.kwargs["delivery_id"])
        return super().get_context_data(
            endpoint=endpoint,
            delivery=delivery,
            event=event_label(delivery.event_name),
            body=json.dumps(delivery.payload, indent=2, ensure_ascii=False, sort_keys=True),
            **kwargs,
        )


class DeliveryReplayView(AdministratorRequiredMixin, View):
    def post(self, request, pk, delivery_id):
        endpoint, delivery = _delivery_or_404(pk, delivery_id)
        try:
            delivery_replay(delivery=delivery, actor=request.user)
        except ApplicationError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("Delivery queued to be sent again."))
        return redirect("dashboard:integration-delivery", pk=endpoint.pk, delivery_id=delivery.pk)
