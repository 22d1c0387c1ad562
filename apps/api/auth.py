from django.utils.translation import gettext as _
from rest_framework import authentication, exceptions, permissions

from apps.accounts.models import ApiKey
from apps.accounts.selectors import api_key_authenticate


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """``Authorization: Api-Key <key>``. The request's ``auth`` is the ApiKey row."""

    keyword = "Api-Key"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        scheme, _sep, raw = header.partition(" ")
        if scheme != self.keyword:
            return None
        raw = raw.strip()
        if not raw:
            raise exceptions.AuthenticationFailed(_("Empty API key."))
        key = api_key_authenticate(raw=raw)
        if key is None:
            raise exceptions.AuthenticationFailed(_("Unknown or revoked API key."))
        return (None, key)

    def authenticate_header(self, request):
        return self.keyword


class HasApiKey(permissions.BasePermission):
    def has_permission(self, request, view):
        return isinstance(request.auth, ApiKey)
