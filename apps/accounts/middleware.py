from allauth.core import ratelimit
from allauth.core.exceptions import RateLimited
from allauth.mfa.models import Authenticator
from django.conf import settings
from django.shortcuts import redirect

PROTECTED_PREFIXES = ("/staff/", "/admin/")


class StaffMFAMiddleware:
    """When ``STAFF_MFA_REQUIRED`` is on, staff must set up TOTP before any staff or admin page."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if (
            settings.STAFF_MFA_REQUIRED
            and request.path.startswith(PROTECTED_PREFIXES)
            and getattr(request, "user", None) is not None
            and request.user.is_authenticated
            and request.user.is_staff
            and not Authenticator.objects.filter(
                user=request.user, type=Authenticator.Type.TOTP
            ).exists()
        ):
            return redirect("mfa_activate_totp")
        return self.get_response(request)


class RateLimitedMiddleware:
    """allauth refuses an SMS code it may not send yet (``verify_phone`` in
    ``ACCOUNT_RATE_LIMITS``: one per number per 30 seconds; and our ``send_sms`` cap, see
    ``adapters``) by raising ``RateLimited`` from deep inside its flows, where most views do not
    catch it; answer it as allauth answers its other limits -- 429 Too Many Requests -- rather
    than as a server error."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, RateLimited):
            return ratelimit.respond_429(request)
        return None
