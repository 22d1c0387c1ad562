"""Joining: claim the membership a till created, or enrol a new one (rules in
``apps.customers.services.membership``). One page, one POST ``action`` per choice."""

from django.contrib import messages
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.generic import TemplateView

from apps.accounts.forms import SIGNUP_CONSENTS, SIGNUP_SESSION_KEY
from apps.core.exceptions import ApplicationError
from apps.customers.exceptions import SmsUnavailable
from apps.customers.selectors import phone_code_pending
from apps.customers.services import (
    membership_claim_by_phone,
    membership_claim_verified,
    membership_options,
    phone_code_send,
)
from apps.loyalty.services import membership_enrol_referred

from .. import ratelimit
from ..forms import REFERRAL_SESSION_KEY, EnrolForm, PhoneCodeForm, PhoneForm
from .mixins import SignedInMixin

CODE_SENDS_PER_HOUR = 5
CLAIMS_PER_HOUR = 10


class JoinView(SignedInMixin, TemplateView):
    template_name = "portal/join.html"

    def get(self, request, *args, **kwargs):
        if self.customer is not None:
            return redirect("portal:overview")
        return super().get(request, *args, **kwargs)

    def _enrol_initial(self) -> dict:
        stash = self.request.session.get(SIGNUP_SESSION_KEY) or {}
        initial = {"first_name": stash.get("first_name", ""), "last_name": stash.get("last_name")}
        ticked = {(ch, p) for ch, p, granted in stash.get("consents", []) if granted}
        for name, ch, p in SIGNUP_CONSENTS:
            initial[name] = (ch, p) in ticked
        initial["referral_code"] = self.request.session.get(REFERRAL_SESSION_KEY, "")
        if not initial["first_name"] and self.request.user.full_name:
            first, _sep, last = self.request.user.full_name.partition(" ")
            initial.update(first_name=first, last_name=last)
        return initial

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        pending = phone_code_pending(user=self.request.user)
        options = membership_options(user=self.request.user)
        context.update(
            options=options,
            enrol_form=kwargs.get("enrol_form") or EnrolForm(initial=self._enrol_initial()),
            phone_form=kwargs.get("phone_form")
            or PhoneForm(initial={"phone": pending or options.verified_phone}),
            code_form=kwargs.get("code_form") or PhoneCodeForm(),
            pending_phone=pending,
        )
        return context

    def post(self, request, *args, **kwargs):
        if self.customer is not None:
            return redirect("portal:overview")
        action = request.POST.get("action", "")
        handler = {
            "claim": self._claim_verified,
            "enrol": self._enrol,
            "phone": self._send_code,
            "code": self._claim_phone,
        }.get(action)
        if handler is None:
            return redirect("portal:join")
        try:
            return handler()
        except ApplicationError as exc:
            messages.error(request, exc.message)
            return redirect("portal:join")

    def _signup_consents(self) -> list[tuple[str, str, bool]]:
        stash = self.request.session.get(SIGNUP_SESSION_KEY) or {}
        return [(ch, p, bool(granted)) for ch, p, granted in stash.get("consents", [])]

    def _joined(self, text: str):
        self.request.session.pop(SIGNUP_SESSION_KEY, None)
        self.request.session.pop(REFERRAL_SESSION_KEY, None)
        messages.success(self.request, text)
        return redirect("portal:overview")

    def _limited(self, scope: str, limit: int) -> bool:
        user_ok = ratelimit.hit(
            scope=scope, key=f"u{self.request.user.pk}", limit=limit, window_seconds=3600
        )
        ip_ok = ratelimit.hit(
            scope=scope, key=ratelimit.client_ip(self.request), limit=limit * 4, window_seconds=3600
        )
        if user_ok and ip_ok:
            return False
        messages.error(self.request, _("Too many attempts. Please try again in an hour."))
        return True

    def _claim_verified(self):
        if self._limited("claim", CLAIMS_PER_HOUR):
            return redirect("portal:join")
        membership_claim_verified(user=self.request.user, consents=self._signup_consents())
        return self._joined(_("Welcome back! Your membership is now linked to this account."))

    def _enrol(self):
        form = EnrolForm(self.request.POST)
        if not form.is_valid():
            return self.render_to_response(self.get_context_data(enrol_form=form))
        outcome = membership_enrol_referred(
            user=self.request.user,
            referral_code=form.cleaned_data["referral_code"],
            first_name=form.cleaned_data["first_name"],
            last_name=form.cleaned_data["last_name"],
            consents=form.consents(),
            evidence="portal sign-up form",
        )
        response = self._joined(_("Welcome! Your membership card is ready."))
        if outcome.refused:
            messages.warning(
                self.request,
                _("The referral code could not be used: %(reason)s") % {"reason": outcome.refused},
            )
        elif outcome.referral is not None:
            messages.info(
                self.request,
                _(
                    "Your friend's invitation is noted: you both get bonus points after "
                    "your first purchase."
                ),
            )
        return response

    def _send_code(self):
        form = PhoneForm(self.request.POST)
        if not form.is_valid():
            return self.render_to_response(self.get_context_data(phone_form=form))
        if self._limited("phone-code", CODE_SENDS_PER_HOUR):
            return redirect("portal:join")
        try:
            phone_code_send(user=self.request.user, phone=form.cleaned_data["phone"])
        except SmsUnavailable as exc:
            form.add_error(None, exc.message)
            return self.render_to_response(self.get_context_data(phone_form=form))
        # Same answer whether or not the number is on a membership: nothing to enumerate.
        messages.info(
            self.request,
            _("If this number belongs to a membership, we have sent it a 6-digit code."),
        )
        return redirect("portal:join")

    def _claim_phone(self):
        form = PhoneCodeForm(self.request.POST)
        if not form.is_valid():
            return self.render_to_response(self.get_context_data(code_form=form))
        if self._limited("claim", CLAIMS_PER_HOUR):
            return redirect("portal:join")
        membership_claim_by_phone(
            user=self.request.user,
            phone=phone_code_pending(user=self.request.user),
            code=form.cleaned_data["code"].strip(),
            member_number=(form.cleaned_data.get("member_number") or "").strip(),
            consents=self._signup_consents(),
        )
        return self._joined(_("Welcome back! Your membership is now linked to this account."))
