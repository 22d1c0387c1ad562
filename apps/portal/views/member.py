"""Member pages: overview (with points and tier), member card, profile, inbox."""

import qrcode
import qrcode.image.svg
from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.generic import FormView, TemplateView

from apps.core.exceptions import ApplicationError, NotFound
from apps.core.forms import add_service_error
from apps.customers.inbox import portal_message_mark_read
from apps.customers.selectors import (
    consent_current,
    customer_stats,
    portal_message_get_for_member,
    portal_message_list_for_member,
)
from apps.customers.services import customer_update
from apps.loyalty.selectors import points_summary

from ..forms import ProfileForm
from .mixins import MemberMixin


def member_qr_svg(member_number: str) -> str:
    """The member number as an inline SVG QR code (scannable at the till, crisp at any size)."""
    qr = qrcode.QRCode(border=2, error_correction=qrcode.constants.ERROR_CORRECT_M)
    qr.add_data(member_number)
    qr.make(fit=True)
    image = qr.make_image(image_factory=qrcode.image.svg.SvgPathImage)
    svg = image.to_string(encoding="unicode")
    return svg.replace("<svg ", '<svg role="img" class="member-qr" ', 1)


class OverviewView(MemberMixin, TemplateView):
    template_name = "portal/overview.html"
    nav = "overview"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        consents = consent_current(customer=self.customer)
        context.update(
            stats=customer_stats(customer=self.customer),
            recent_messages=list(portal_message_list_for_member(customer=self.customer)[:3]),
            granted_count=sum(1 for r in consents.values() if r is not None and r.granted),
            points=points_summary(customer=self.customer),
        )
        return context


class CardView(MemberMixin, TemplateView):
    template_name = "portal/card.html"
    nav = "card"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        # qrcode's SVG is generated from the digits of the member number only.
        context["qr_svg"] = mark_safe(member_qr_svg(self.customer.member_number))  # noqa: S308 (qrcode SVG of digits)  # nosec B308 B703
        return context


class ProfileView(MemberMixin, FormView):
    template_name = "portal/profile.html"
    form_class = ProfileForm
    nav = "profile"

    def get_initial(self):
        c = self.customer
        return {
            "first_name": c.first_name,
            "last_name": c.last_name,
            "phone": c.phone,
            "birth_date": c.birth_date,
            "gender": c.gender,
            "city": c.city,
            "preferred_language": c.preferred_language,
            "preferred_channel": c.preferred_channel,
        }

    def get_form_kwargs(self):
        return super().get_form_kwargs() | {"customer": self.customer}

    def form_valid(self, form):
        try:
            customer_update(customer=self.customer, actor=self.request.user, **form.cleaned_data)
        except ApplicationError as exc:
            add_service_error(form, exc)
            return self.form_invalid(form)
        messages.success(self.request, _("Your profile is saved."))
        return redirect("portal:profile")


class MessageListView(MemberMixin, TemplateView):
    template_name = "portal/messages.html"
    nav = "messages"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["inbox"] = list(portal_message_list_for_member(customer=self.customer)[:100])
        return context


class MessageDetailView(MemberMixin, TemplateView):
    template_name = "portal/message_detail.html"
    nav = "messages"

    def get(self, request, *args, **kwargs):
        try:
            self.message = portal_message_get_for_member(
                customer=self.customer, message_id=kwargs["pk"]
            )
        except NotFound as exc:
            raise Http404 from exc
        portal_message_mark_read(message=self.message)
        return super().get(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(message=self.message, back_url=reverse("portal:messages"))
        return context
