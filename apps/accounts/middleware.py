from allauth.account.adapter import get_adapter
from allauth.core import ratelimit
from allauth.core.exceptions import RateLimited
from allauth.mfa.models import Authenticator
from allauth.usersessions.models import UserSession
from django.conf import settings
from django.core.cache import cache
from django.shortcuts import redirect

PROTECTED_PREFIXES = ("/staff/", "/admin/")
USER_AGENT_KEPT = UserSession._meta.get_field("user_agent").max_length


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


class SessionActivityMiddleware:
    """allauth's list of a user's signed-in devices (``usersessions``: client, address, last
    seen), kept up to date without a write on every request. allauth's own middleware records
    each authenticated request (a transaction of five statements before any page); this one
    records a session when its client or address changes, and otherwise at most once per
    ``SESSION_ACTIVITY_INTERVAL`` seconds, remembered in the shared cache. "Last seen" is then
    as fresh as that interval, which is all the sessions page shows."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        session = getattr(request, "session", None)
        user = getattr(request, "user", None)
        if (
            session is not None
            and session.session_key
            and user is not None
            and user.is_authenticated
        ):
            key = f"usersession-seen:{session.session_key}"
            client = (
                get_adapter().get_client_ip(request),
                request.META.get("HTTP_USER_AGENT", "")[:USER_AGENT_KEPT],
            )
            if tuple(cache.get(key) or ()) != client:
                UserSession.objects.create_from_request(request)
                cache.set(key, client, settings.SESSION_ACTIVITY_INTERVAL)
        return self.get_response(request)
