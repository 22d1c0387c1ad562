"""A small fixed-window rate limit on the shared cache (database cache or Redis, so it holds
across processes). allauth limits its own forms; this covers the portal's claim and code
requests and the unsubscribe endpoint."""

import time

from django.core.cache import cache


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
    return request.META.get("REMOTE_ADDR", "") or "unknown"
