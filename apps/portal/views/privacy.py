"""Preference centre, "download my data", "delete my account", and one-click unsubscribe."""

from allauth.account.decorators import reauthentication_required
from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.cache import add_never_cache_headers
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.views import View
from django.views.decorators.csrf import csrf_exempt
from django.views.generic import FormView, TemplateView

from apps.core.exceptions import NotFound
from apps.customers.enums import Channel, ConsentPurpose
from apps.customers.selectors import consent_current, consent_history
from apps.customers.services import (
    consent_preferences_save,
    customer_erase,
    customer_export,
    unsubscribe_apply,
    unsubscribe_token_read,
)

from .. import ratelimit
from ..forms import PREFERENCE_PURPOSES, ConsentForm, EraseForm, consent_field_name
from .mixins import MemberMixin

INVALID_TOKENS_PER_MINUTE = 60  # per IP; valid tokens are never limited


class PrivacyView(MemberMixin, FormView):
    template_name = "portal/privacy.html"
    form_class = ConsentForm
    nav = "privacy"

    def get_initial(self):
        current = consent_current(customer=self.customer)
        return {
            consent_field_name(ch, p): bool(current[(ch, p)] and current[(ch, p)].granted)
            for ch in Channel.values
            for p in PREFERENCE_PURPOSES
        }

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        form = context["form"]
        context["grid"] = [
            {
                "channel": Channel(ch).label,
                "cells": [form[consent_field_name(ch, p)] for p in PREFERENCE_PURPOSES],
            }
            for ch in Channel.values
        ]
        context["purposes"] = [p.label for p in PREFERENCE_PURPOSES]
        context["history"] = list(consent_history(customer=self.customer)[:20])
        return context

    def form_valid(self, form):
        written = consent_preferences_save(
            customer=self.customer,
            choices=form.choices(),
            actor=self.request.user,
            source="portal",
            evidence="preference centre",
        )
        if written:
            messages.success(self.request, _("Your contact preferences are saved."))
        else:
            messages.info(self.request, _("Nothing changed."))
        return redirect("portal:privacy")


@method_decorator(reauthentication_required, name="post")
class ExportView(MemberMixin, View):
    """POST only (a download is a disclosure: CSRF-protected and re-authenticated)."""

    def post(self, request, *args, **kwargs):
        filename, payload = customer_export(customer=self.customer, actor=request.user)
        response = HttpResponse(payload, content_type="application/zip")
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response


@method_decorator(reauthentication_required, name="post")
class DeleteAccountView(MemberMixin, FormView):
    template_name = "portal/delete.html"
    form_class = EraseForm
    nav = "privacy"

    def form_valid(self, form):
        customer_erase(customer=self.customer, actor=self.request.user)
        logout(self.request)
        return redirect("portal:deleted")


class DeletedView(TemplateView):
    template_name = "portal/deleted.html"


@method_decorator(csrf_exempt, name="dispatch")  # RFC 8058: mail clients POST without a token
class UnsubscribeView(View):
    """GET: a confirm page (link scanners that prefetch GETs change nothing). POST: withdraw,
    from the page's button or a mail client's ``List-Unsubscribe=One-Click`` request."""

    template_name = "portal/unsubscribe.html"

    def _render(self, request, context, status=200):
        response = render(request, self.template_name, context, status=status)
        add_never_cache_headers(response)
        return response

    def _invalid(self, request):
        return self._render(request, {"invalid": True}, status=404)

    def get(self, request, token):
        try:
            _customer, channel, purpose = unsubscribe_token_read(token=token)
        except NotFound:
            return self._invalid(request)
        return self._render(request, self._describe(channel, purpose) | {"token": token})

    def post(self, request, token):
        # Only bad tokens count against the limit: a shared mail server relays many members'
        # genuine RFC 8058 one-click requests from one IP, and those must never be dropped.
        one_click = request.POST.get("List-Unsubscribe") == "One-Click"
        try:
            _customer, channel, purpose, _changed = unsubscribe_apply(
                token=token, one_click=one_click
            )
        except NotFound:
            if not ratelimit.hit(
                scope="unsubscribe-invalid",
                key=ratelimit.client_ip(request),
                limit=INVALID_TOKENS_PER_MINUTE,
                window_seconds=60,
            ):
                return self._render(request, {"limited": True}, status=429)
            return self._invalid(request)
        if one_click:
            return HttpResponse(status=200)
        return self._render(request, self._describe(channel, purpose) | {"done": True})

    @staticmethod
    def _describe(channel: str, purpose: str) -> dict:
        return {"channel": Channel(channel).label, "purpose": ConsentPurpose(purpose).label}
