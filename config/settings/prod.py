"""Production: refuses to start without a secret key, the ledger and erasure-digest keys or a
real mail server; passes ``check --deploy`` cleanly."""

from django.core.exceptions import ImproperlyConfigured

from .base import *

DEBUG = False
SECRET_KEY = env("DJANGO_SECRET_KEY", default="")
# The same bar as Django's security.W009: 50+ characters, 5+ distinct ones, not the dev key.
if len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5 or SECRET_KEY.startswith("dev-only"):
    raise ImproperlyConfigured(
        "DJANGO_SECRET_KEY must be set to a random value of 50+ characters "
        "(at least 5 different ones)."
    )
# Rotation without logging everybody out (deploy/RUNBOOK.md, "Rotating keys"): the previous keys,
# still accepted for signatures made under them, until SESSION_COOKIE_AGE has passed.
SECRET_KEY_FALLBACKS = env.list("DJANGO_SECRET_KEY_FALLBACKS", default=[])

# Keys of their own, never derived from the secret key: the ledger's HMAC chain (a new key breaks
# every chain) and the erased-contacts digests (a new key empties the suppression list).
LEDGER_KEY = env("LEDGER_KEY", default="")
ERASURE_DIGEST_KEY = env("ERASURE_DIGEST_KEY", default="")
for _name, _value in (("LEDGER_KEY", LEDGER_KEY), ("ERASURE_DIGEST_KEY", ERASURE_DIGEST_KEY)):
    if len(_value) < 32 or len(set(_value)) < 5:
        raise ImproperlyConfigured(
            f"{_name} must be set to a random value of 32+ characters (at least 5 different "
            "ones), e.g. from: python -c 'import secrets; print(secrets.token_urlsafe(48))'"
        )
if LEDGER_KEY in (SECRET_KEY, ERASURE_DIGEST_KEY):
    raise ImproperlyConfigured(
        "LEDGER_KEY must be a key of its own, not DJANGO_SECRET_KEY or ERASURE_DIGEST_KEY."
    )

# The console backend writes every e-mail (addresses, sign-in codes, reset links) to the log;
# dummy, locmem and file backends lose or hoard them. Production must name a real server.
_NON_DELIVERING_EMAIL_BACKENDS = {
    "django.core.mail.backends.console.EmailBackend",
    "django.core.mail.backends.dummy.EmailBackend",
    "django.core.mail.backends.locmem.EmailBackend",
    "django.core.mail.backends.filebased.EmailBackend",
}
if not env("EMAIL_URL", default="") or EMAIL_BACKEND in _NON_DELIVERING_EMAIL_BACKENDS:
    raise ImproperlyConfigured(
        "EMAIL_URL must name a real mail server in production, "
        "e.g. smtp+tls://user:pass@smtp.example.com:587 (console, dummy, memory and file "
        "backends are refused)."
    )

STAFF_MFA_REQUIRED = env.bool("STAFF_MFA_REQUIRED", default=True)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
# Django's defaults, named: scripts/smoke_prod.py checks every response carries them.
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
SESSION_COOKIE_SAMESITE = CSRF_COOKIE_SAMESITE = "Lax"
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# Base's storages (private files included), with hashed, compressed static files.
STORAGES = {
    **STORAGES,
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# --- Logs: JSON lines by default (LOG_FORMAT=json|plain), each with the request id --------------
# Fields: time, level, logger, message, request_id (+ exc_info for a traceback). Base's handler,
# filters and loggers stay; only the console's format changes (deploy/RUNBOOK.md).
from apps.core.request_id import JSON_FORMATTER  # noqa: E402 - settings, not a module to sort

LOG_FORMAT = env("LOG_FORMAT", default="json")
if LOG_FORMAT not in ("json", "plain"):
    raise ImproperlyConfigured(f"LOG_FORMAT must be 'json' or 'plain', not {LOG_FORMAT!r}.")
LOGGING["formatters"]["json"] = JSON_FORMATTER
LOGGING["handlers"]["console"]["formatter"] = LOG_FORMAT
