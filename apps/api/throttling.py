"""API rate limits (DRF throttling on the shared cache, so they hold across workers).

- ``api_key``: every request, per integration key (a till chain's key carries all its tills).
- ``coupon_check``: coupon validation per key and member (or per key for anonymous checks), so
  nobody can try codes in bulk: codes are bearer value.

A limited request is ``429`` ``{"code": "throttled", "message": ...}`` with ``Retry-After``.
Rates are settings (``API_RATE``, ``API_COUPON_CHECK_RATE``, DRF's "N/second|minute|hour|day").
"""

import hashlib

from rest_framework.throttling import SimpleRateThrottle


class ApiKeyThrottle(SimpleRateThrottle):
    scope = "api_key"

    def get_cache_key(self, request, view):
        key = getattr(request, "auth", None)
        if key is None or getattr(key, "pk", None) is None:
            return None  # unauthenticated requests are refused before they cost anything
        return self.cache_format % {"scope": self.scope, "ident": key.pk}


class CouponCheckThrottle(ApiKeyThrottle):
    scope = "coupon_check"

    def get_cache_key(self, request, view):
        base = super().get_cache_key(request, view)
        if base is None:
            return None
        data = request.data
        member = data.get("member_number") if isinstance(data, dict) else None
        if not isinstance(member, str) or not member:
            member = "-"
        # Hashed: the value is whatever the caller sent, and cache keys must stay plain ASCII.
        return f"{base}:{hashlib.sha256(member.encode('utf-8', 'replace')).hexdigest()[:32]}"
