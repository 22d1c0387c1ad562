"""A small fixed-window rate limit on the shared cache (database cache or Redis, so it holds
across processes). allauth limits its own forms; this covers the portal's claim and code
requests and the unsubscribe endpoint."""

import time

from allauth.account.adapter import get_adapter
from django.core.cache import cache
from django.core.exceptions import PermissionDenied


def hit(*, scope: str, key: str, limit: int, window_seconds: int) -> bool:
    """Count one attempt; False once ``limit`` attempts were made in the current window."""
    bucket = int(time.time() // window_seconds)
    cache_key = f"portal:rl:{scope}:{key}:{bucket}"
    if cache.add(cache_key, 1, window_seconds + 5):
        return True
    try:
        count = cache.incr(cache_key)
    except ValueError:  # expired between add and incr
        cache.set(cache_key, 1, window_seconds + 5)
        return True
    return count <= limit


def client_ip(request) -> str:
    """The client's address as allauth's rate limits see it: behind a proxy, the one the
    trusted proxies report (ALLAUTH_TRUSTED_PROXY_COUNT / ALLAUTH_TRUSTED_CLIENT_IP_HEADER),
    so both sets of limits key on the same person."""
    try:
        return get_adapter(request).get_client_ip(request)
    except PermissionDenied:  # no usable address: all such requests share one bucket
        return "unknown"
