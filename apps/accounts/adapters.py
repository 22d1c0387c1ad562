from allauth.account.adapter import DefaultAccountAdapter
from django.conf import settings
from django.urls import reverse

from .forms import SIGNUP_SESSION_KEY


class AccountAdapter(DefaultAccountAdapter):
    """Staff land on the dashboard, members on the portal (``/me/``)."""

    def get_login_redirect_url(self, request):
        user = request.user
        if user.is_authenticated and user.is_staff:
            return reverse("dashboard:home")
        return settings.LOGIN_REDIRECT_URL

    def is_open_for_signup(self, request):
        return getattr(settings, "ACCOUNT_ALLOW_SIGNUP", True)

    def save_user(self, request, user, form, commit=True):
        """Keep the sign-up names on the account and the ticked contact permissions in the
        session: the membership (and its consent records) is created only once the e-mail is
        verified, on the portal's join page, which pre-fills these choices."""
        if hasattr(form, "signup_choices"):
            choices = form.signup_choices()
            user.full_name = f"{choices['first_name']} {choices['last_name']}".strip()
            if getattr(request, "LANGUAGE_CODE", ""):
                user.language = request.LANGUAGE_CODE
            if hasattr(request, "session"):
                request.session[SIGNUP_SESSION_KEY] = choices
        return super().save_user(request, user, form, commit=commit)
