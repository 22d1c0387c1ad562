from allauth.account.adapter import DefaultAccountAdapter
from allauth.core import context, ratelimit
from allauth.core.exceptions import RateLimited
from django.conf import settings
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from apps.core.exceptions import ValidationFailed
from apps.core.phones import phone_normalize
from apps.core.sms import get_sms_backend

from .forms import SIGNUP_SESSION_KEY, PhoneNumberField
from .selectors import user_get_by_phone
from .services import user_phone_set, user_phone_verify

# Every SMS the sign-in flows send (codes, and the notices that keep enumeration closed) counts
# against this action of ACCOUNT_RATE_LIMITS, per number and per client address, whichever flow
# sends it: texts cost money and can be used to pester a stranger's phone.
SMS_RATE_LIMIT_ACTION = "send_sms"


class AccountAdapter(DefaultAccountAdapter):
    """Staff land on the dashboard, members on the portal (``/me/``). Members may sign up and
    sign in with a mobile number: allauth's phone support, with the number kept on the
    ``User`` (see ``accounts.services.user_phone_*``) and codes sent by the project's SMS
    back-end (``apps.core.sms``)."""

    def get_login_redirect_url(self, request):
        user = request.user
        if user.is_authenticated and user.is_staff:
            return reverse("dashboard:home")
        return settings.LOGIN_REDIRECT_URL

    def is_open_for_signup(self, request):
        return getattr(settings, "ACCOUNT_ALLOW_SIGNUP", True)

    def save_user(self, request, user, form, commit=True):
        """Keep the sign-up names on the account and the ticked contact permissions in the
        session: the membership (and its consent records) is created only once the e-mail or
        phone is verified, on the portal's join page, which pre-fills these choices."""
        if hasattr(form, "signup_choices"):
            choices = form.signup_choices()
            user.full_name = f"{choices['first_name']} {choices['last_name']}".strip()
            if getattr(request, "LANGUAGE_CODE", ""):
                user.language = request.LANGUAGE_CODE
            if hasattr(request, "session"):
                request.session[SIGNUP_SESSION_KEY] = choices
        user = super().save_user(request, user, form, commit=False)
        if not user.email:
            user.email = None  # signed up by phone: no address (NULLs do not collide)
        if commit:
            user.save()
        return user

    def get_login_stages(self):
        return [
            "apps.accounts.stages.EmailVerificationStage"
            if path == "allauth.account.stages.EmailVerificationStage"
            else path
            for path in super().get_login_stages()
        ]

    # --- phone ------------------------------------------------------------------------------

    def phone_form_field(self, **kwargs):
        return PhoneNumberField(**kwargs)

    def set_phone(self, user, phone, verified):
        if verified:
            user_phone_verify(user=user, phone=phone)
        else:
            user_phone_set(user=user, phone=phone)

    def get_phone(self, user):
        if not user.phone:
            return None
        return user.phone, user.phone_verified

    def set_phone_verified(self, user, phone):
        user_phone_verify(user=user, phone=phone)

    def get_user_by_phone(self, phone):
        # allauth passes what was typed at sign-in as is: read it as the rest of the project does.
        try:
            phone = phone_normalize(phone)
        except ValidationFailed:
            return None
        return user_get_by_phone(phone=phone)

    def send_verification_code_sms(self, user, phone, code, **kwargs):
        with translation.override(_member_language(user)):
            body = _("Your Clientele code is %(code)s. Never share it with anyone.") % {
                "code": code
            }
        self._send_sms(phone, body)

    def send_account_already_exists_sms(self, phone):
        self._send_sms(
            phone,
            _(
                "You already have a Clientele account with this number. Sign in with a code "
                "sent by text message instead."
            ),
        )

    def send_unknown_account_sms(self, phone, **kwargs):
        self._send_sms(
            phone,
            _(
                "Someone asked to sign in to Clientele with this number, but no account uses "
                "it. If it was you, please join first."
            ),
        )

    def _send_sms(self, phone: str, body: str) -> None:
        """Send one text, or raise allauth's ``RateLimited`` -- as its own phone limit does: its
        "new code" buttons show that as a message, anything else answers 429
        (``middleware.RateLimitedMiddleware``). Nothing is sent either way."""
        request = context.request
        if request is not None and not ratelimit.consume(
            request, action=SMS_RATE_LIMIT_ACTION, key=phone
        ):
            raise RateLimited
        get_sms_backend().send(to=phone, body=body)


def _member_language(user) -> str:
    codes = {code for code, _name in settings.LANGUAGES}
    if user is not None and user.language in codes:
        return user.language
    return translation.get_language() or settings.LANGUAGE_CODE
