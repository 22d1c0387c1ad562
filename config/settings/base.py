"""Settings shared by every environment. Values come from the environment (django-environ)."""

import hashlib
import hmac
import logging
from pathlib import Path

import environ
from csp.constants import NONE, SELF
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = BASE_DIR / "var"
VAR_DIR.mkdir(exist_ok=True)

env = environ.Env()

SECRET_KEY = env("DJANGO_SECRET_KEY", default="dev-only-insecure-key-change-me")
# Keys the digests of erased people's contact points (apps.customers.identifiers.contact_digest).
# Its own setting so that rotating DJANGO_SECRET_KEY does not silently empty the suppression list.
ERASURE_DIGEST_KEY = env("ERASURE_DIGEST_KEY", default=SECRET_KEY)


def derive_key(secret: str, label: str) -> str:
    """A key of its own for one purpose, derived from ``secret`` under a label (dev and test
    only: production sets every key explicitly)."""
    return hmac.new(secret.encode(), label.encode(), hashlib.sha256).hexdigest()


LEDGER_KEY_LABEL = "clientele/ledger-chain/v1"
# Keys the points ledger's HMAC-SHA-256 chain and signs its digests (apps.loyalty.ledger).
# Production refuses to start without it. Changing it breaks every chain (docs/decisions.md).
LEDGER_KEY = env("LEDGER_KEY", default=derive_key(SECRET_KEY, LEDGER_KEY_LABEL))
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])

INSTALLED_APPS = [
    "modeltranslation",  # before the admin: translated content fields (docs/decisions.md)
    "apps.accounts.admin_config.ClienteleAdminConfig",  # django.contrib.admin, Administrators only
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "csp",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI files served locally, never from a CDN
    "django_celery_beat",
    "import_export",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "allauth.usersessions",
    "apps.core",
    "apps.accounts",
    "apps.customers",
    "apps.loyalty",
    "apps.surveys",
    "apps.complaints",
    "apps.analytics",
    "apps.campaigns",
    "apps.integrations",
    "apps.dashboard",
    "apps.portal",
    "apps.api",
]

MIDDLEWARE = [
    # First: /healthz, /readyz and /metrics are answered here, before the SSL redirect and the
    # ALLOWED_HOSTS check (load balancers probe over plain HTTP by address; apps.core.health).
    "apps.core.health.ProbeMiddleware",
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    # Before anything that may answer early (redirects, refusals), so those carry the id too.
    "apps.core.request_id.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "apps.core.middleware.PermissionsPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    # Before anything loads the session or reads the database (SessionMiddleware only reads the
    # cookie, lazily), after LocaleMiddleware so refusals speak the client's language: NUL
    # bytes and oversized bodies are refused here (400 / 413), never a 500 further in.
    "apps.core.middleware.RequestHygieneMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    # allauth.usersessions' activity tracking, once a minute rather than every request.
    "apps.accounts.middleware.SessionActivityMiddleware",
    "apps.accounts.middleware.StaffMFAMiddleware",
    "apps.accounts.middleware.RateLimitedMiddleware",
    # Last: request latency by view (apps.core.metrics).
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "apps.core.context_processors.site",
            ],
        },
    },
]

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web process and the Celery worker share the embedded database.
    DATABASES["default"].setdefault("OPTIONS", {})
    DATABASES["default"]["OPTIONS"].update(
        {"timeout": 20, "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"}
    )
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# A read replica of the same database (streaming replication): reports and exports read from it,
# only inside apps.core.replica.reporting(); every other read and every write stays on default.
# Tests point it at the test database (MIRROR), so both see the same rows.
if DATABASE_REPLICA_URL := env("DATABASE_REPLICA_URL", default=""):
    DATABASES["replica"] = env.db_url_config(DATABASE_REPLICA_URL)
    DATABASES["replica"]["ATOMIC_REQUESTS"] = False
    DATABASES["replica"]["CONN_MAX_AGE"] = DATABASES["default"].get("CONN_MAX_AGE", 0)
    DATABASES["replica"]["CONN_HEALTH_CHECKS"] = DATABASES["default"].get(
        "CONN_HEALTH_CHECKS", False
    )
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
    DATABASE_ROUTERS = ["apps.core.replica.ReplicaRouter"]

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

REDIS_URL = env("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
else:
    # A real, cross-process cache (rate limits must hold across workers) without Redis.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "clientele_cache",
        }
    }

AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- allauth -------------------------------------------------------------------------------
ACCOUNT_ADAPTER = "apps.accounts.adapters.AccountAdapter"
ACCOUNT_FORMS = {"signup": "apps.accounts.forms.SignupForm"}
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
# Members sign in with their e-mail address or their mobile number (docs/decisions.md, "Members
# sign in with their phone"). "phone" is optional here because e-mail sign-up (this list) asks
# for none; the phone sign-up form (apps.accounts.forms.PhoneSignupForm) asks for "phone*" only.
ACCOUNT_LOGIN_METHODS = {"email", "phone"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "phone", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_SESSION_REMEMBER = None
ACCOUNT_RATE_LIMITS = {
    "login": "30/m/ip",
    "login_failed": "10/m/ip,5/5m/key",
    "signup": "20/m/ip",
    "confirm_email": "1/3m/key",
    "reset_password": "20/m/ip,5/m/key",
    "reset_password_from_key": "20/m/ip",
    "change_password": "5/m/user",
    # Phone: sign-in codes are requested per number as e-mail ones are (allauth's default,
    # "20/m/ip,3/m/key"); a verification code goes to a number at most once per 30 seconds; a
    # member may try to change their number 3 times a minute (the password check allauth asks
    # for first replays the request, which counts again).
    "verify_phone": "1/30s/key,3/m/ip",
    "change_phone": "3/m/user",
    # Every text message the sign-in flows send, whichever flow (apps.accounts.adapters):
    # per number 3 per 10 minutes and 10 a day, per client address 30 an hour.
    "send_sms": "3/10m/key,10/d/key,30/h/ip",
}
# Behind a reverse proxy every request arrives from the proxy's address, and every user would
# share one rate limit. Name either the number of proxies you run (each appends the address it
# saw to X-Forwarded-For; the client's is the one the outermost proxy appended) or the header
# your proxy sets to the client's address (X-Real-IP, CF-Connecting-IP). Unset: the connecting
# address, and X-Forwarded-For is ignored (a client could forge it). allauth's limits and the
# portal's (apps.portal.ratelimit.client_ip) read the address the same way.
ALLAUTH_TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
ALLAUTH_TRUSTED_CLIENT_IP_HEADER = env("TRUSTED_CLIENT_IP_HEADER", default="") or None
ACCOUNT_LOGIN_BY_CODE_ENABLED = True
ACCOUNT_PHONE_VERIFICATION_ENABLED = True
ACCOUNT_PHONE_VERIFICATION_SUPPORTS_RESEND = True  # "Request new code" on the code page
ACCOUNT_PHONE_VERIFICATION_SUPPORTS_CHANGE = True  # fix a mistyped number at sign-up
# Six digits, as every Chinese app texts them (phones offer to fill them in). Guessing is bounded
# by 3 tries per code (allauth's default) and the SMS limits above.
ACCOUNT_PHONE_VERIFICATION_CODE_FORMAT = {"numeric": True, "length": 6, "dashed": False}
ACCOUNT_REAUTHENTICATION_REQUIRED = True
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[Clientele] "
USERSESSIONS_TRACK_ACTIVITY = True  # recorded by apps.accounts.middleware.SessionActivityMiddleware
# How stale a session's "last seen" may be: a session's client is recorded again after this.
SESSION_ACTIVITY_INTERVAL = env.int("SESSION_ACTIVITY_INTERVAL", default=60)
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "/me/"
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "Clientele"
# Staff must have TOTP before they reach /staff/ or /admin/ when this is on (on in production).
STAFF_MFA_REQUIRED = env.bool("STAFF_MFA_REQUIRED", default=False)

# --- i18n ----------------------------------------------------------------------------------
LANGUAGE_CODE = env("LANGUAGE_CODE", default="en")
LANGUAGES = [("en", _("English")), ("zh-hans", _("Simplified Chinese"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
# Programme content (reward, tier, badge, store, earn-rule names, …) is written in both
# languages and read in the reader's, falling back to the other (django-modeltranslation).
MODELTRANSLATION_DEFAULT_LANGUAGE = "en"
MODELTRANSLATION_LANGUAGES = ("en", "zh-hans")
MODELTRANSLATION_FALLBACK_LANGUAGES = {"default": ("en", "zh-hans")}
MODELTRANSLATION_REQUIRED_LANGUAGES = ()
# Per-language date and number formats (config/formats/<lang>/formats.py).
FORMAT_MODULE_PATH = ["config.formats"]
TIME_ZONE = env("TIME_ZONE", default="Asia/Shanghai")
USE_I18N = True
USE_TZ = True
CURRENCY = env("CURRENCY", default="CNY")
# How many years back an order may be dated (history back-fills); older dates are typos.
ORDER_HISTORY_YEARS = env.int("ORDER_HISTORY_YEARS", default=20)
PHONE_DEFAULT_REGION = env("PHONE_DEFAULT_REGION", default="CN")

# --- static & media ------------------------------------------------------------------------
STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
# collectstatic's output, and the public media; MEDIA_ROOT is a shared mount when several
# machines run the web tier with STORAGE_BACKEND=filesystem (deploy/RUNBOOK.md, "Scaling out").
STATIC_ROOT = Path(env("STATIC_ROOT", default=str(VAR_DIR / "staticfiles")))
MEDIA_ROOT = Path(env("MEDIA_ROOT", default=str(VAR_DIR / "media")))
MEDIA_URL = "/media/"
# Inbound e-mail (replies to tickets): the domain of the signed reply-to addresses and the
# secret a mail gateway signs its posts with (unset: inbound mail is refused).
INBOUND_MAIL_DOMAIN = env("INBOUND_MAIL_DOMAIN", default="reply.clientele.local")
INBOUND_MAIL_SECRET = env("INBOUND_MAIL_SECRET", default="")
# No larger than DATA_UPLOAD_MAX_MEMORY_SIZE: the request hygiene middleware refuses bigger
# bodies before any view.
INBOUND_MAIL_MAX_BYTES = env.int("INBOUND_MAIL_MAX_BYTES", default=10 * 1024 * 1024)
INBOUND_MAIL_MAX_PARTS = 100
# Private files (complaint attachments, import uploads): never under MEDIA_ROOT, never given a
# URL, served only by permission-checked views (apps.core.private_files; a system check refuses
# a PRIVATE_MEDIA_ROOT that overlaps a public directory). Back it up with the database.
PRIVATE_MEDIA_ROOT = Path(env("PRIVATE_MEDIA_ROOT", default=str(VAR_DIR / "private")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    "private": {"BACKEND": "apps.core.private_files.PrivateStorage"},
}
# Web and worker processes on several machines must share their files: either a shared mount at
# MEDIA_ROOT / PRIVATE_MEDIA_ROOT (STORAGE_BACKEND=filesystem, the default) or an S3-compatible
# object store (STORAGE_BACKEND=s3: AWS S3, MinIO, Ceph, OSS, COS ...) for both the default and
# the private storage (deploy/RUNBOOK.md, "Scaling out"). Private files get a bucket of their own,
# never public-read, and still no URL: the permission-checked views stream them, no signed links.
STORAGE_BACKEND = env("STORAGE_BACKEND", default="filesystem")
if STORAGE_BACKEND == "s3":
    _s3_options = {
        # Unset keys: boto3's own chain (instance role, AWS_* variables, ~/.aws) finds them.
        "access_key": env("AWS_ACCESS_KEY_ID", default="") or None,
        "secret_key": env("AWS_SECRET_ACCESS_KEY", default="") or None,
        "endpoint_url": env("AWS_S3_ENDPOINT_URL", default="") or None,
        "region_name": env("AWS_S3_REGION_NAME", default="") or None,
        "addressing_style": env("AWS_S3_ADDRESSING_STYLE", default="") or None,
        "signature_version": "s3v4",
        "file_overwrite": False,
    }
    _public_bucket = env("AWS_STORAGE_BUCKET_NAME")
    _private_bucket = env("AWS_PRIVATE_STORAGE_BUCKET_NAME")
    if _private_bucket == _public_bucket:
        raise environ.ImproperlyConfigured(
            "AWS_PRIVATE_STORAGE_BUCKET_NAME must name a bucket of its own, not the public "
            "AWS_STORAGE_BUCKET_NAME."
        )
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": _s3_options
        | {
            "bucket_name": _public_bucket,
            # Public media are linked without signatures (the bucket policy or a CDN in front,
            # AWS_S3_CUSTOM_DOMAIN, makes them readable); objects carry no ACL of their own.
            "default_acl": None,
            "querystring_auth": False,
            "custom_domain": env("AWS_S3_CUSTOM_DOMAIN", default="") or None,
        },
    }
    STORAGES["private"] = {
        "BACKEND": "apps.core.private_s3.PrivateS3Storage",
        "OPTIONS": _s3_options | {"bucket_name": _private_bucket},
    }
elif STORAGE_BACKEND != "filesystem":
    raise environ.ImproperlyConfigured(
        f"STORAGE_BACKEND must be 'filesystem' or 's3', not {STORAGE_BACKEND!r}."
    )
# An uploaded file above this size is spooled to a temporary file, not held in memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
# The body of a request without its uploaded files (Django does not count those here): the
# attachment and import limits below bound the files, the reverse proxy the whole request
# (client_max_body_size: IMPORT_MAX_UPLOAD_BYTES on the import pages, a little above
# ATTACHMENT_MAX_TOTAL_BYTES elsewhere).
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
# Attachments (apps.core.uploads): JPEG, PNG, WebP and PDF, checked by content; per file, per
# image (pixels are decoded memory, some 8 bytes each at the peak), per upload.
ATTACHMENT_MAX_BYTES = env.int("ATTACHMENT_MAX_BYTES", default=10 * 1024 * 1024)
ATTACHMENT_MAX_PIXELS = env.int("ATTACHMENT_MAX_PIXELS", default=40_000_000)
ATTACHMENT_MAX_FILES = env.int("ATTACHMENT_MAX_FILES", default=5)
ATTACHMENT_MAX_TOTAL_BYTES = env.int("ATTACHMENT_MAX_TOTAL_BYTES", default=25 * 1024 * 1024)
IMPORT_MAX_UPLOAD_BYTES = env.int("IMPORT_MAX_UPLOAD_BYTES", default=200 * 1024 * 1024)
# An .xlsx import is refused before parsing when the parts openpyxl loads whole (shared
# strings, styles, ...) unpack to more than the first, or its streamed worksheet to more than
# the second; any import file past IMPORT_MAX_ROWS data rows is refused too (decompression
# bombs, runaway files). A 1,000,000-row orders sheet is some 600 MB of XML.
IMPORT_MAX_UNPACKED_BYTES = env.int("IMPORT_MAX_UNPACKED_BYTES", default=50 * 1024 * 1024)
IMPORT_MAX_SHEET_BYTES = env.int("IMPORT_MAX_SHEET_BYTES", default=1024 * 1024 * 1024)
IMPORT_MAX_ROWS = env.int("IMPORT_MAX_ROWS", default=1_000_000)
# Exports of more rows than this are written by a worker (a progress bar and a download link
# that lasts EXPORT_LINK_HOURS) instead of in the request.
EXPORT_BACKGROUND_ROWS = env.int("EXPORT_BACKGROUND_ROWS", default=10_000)
EXPORT_LINK_HOURS = env.int("EXPORT_LINK_HOURS", default=24)

# --- e-mail --------------------------------------------------------------------------------
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
# Absolute base URL for links in e-mails (no trailing slash), e.g. https://crm.example.com
SITE_URL = env("SITE_URL", default="http://127.0.0.1:8000")
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="Clientele <no-reply@clientele.local>")
# Campaign sending: messages per second per channel (the sender paces itself to these), and
# the domain of the Message-ID header of campaign e-mails.
CAMPAIGN_SEND_RATES = {
    "email": env.float("CAMPAIGN_EMAIL_RATE", default=50.0),
    "sms": env.float("CAMPAIGN_SMS_RATE", default=20.0),
    "portal": env.float("CAMPAIGN_PORTAL_RATE", default=2000.0),
}
CAMPAIGN_MESSAGE_ID_DOMAIN = env("CAMPAIGN_MESSAGE_ID_DOMAIN", default="clientele.local")
SMS_BACKEND = env("SMS_BACKEND", default="apps.core.sms.ConsoleSmsBackend")
# HttpSmsBackend: a JSON gateway (POST {to, body, reference} -> {id}); see docs/decisions.md.
SMS_HTTP_URL = env("SMS_HTTP_URL", default="")
SMS_HTTP_TOKEN = env("SMS_HTTP_TOKEN", default="")
SMS_HTTP_TIMEOUT = env.float("SMS_HTTP_TIMEOUT", default=5.0)  # seconds per attempt
SMS_HTTP_RETRIES = env.int("SMS_HTTP_RETRIES", default=3)  # after the first attempt
SMS_HTTP_BACKOFF = env.float("SMS_HTTP_BACKOFF", default=0.5)  # seconds, doubled each retry
# Delivery receipts are signed with this (HMAC-SHA256 of the body); empty: receipts refused.
SMS_HTTP_RECEIPT_SECRET = env("SMS_HTTP_RECEIPT_SECRET", default="")

# --- Celery --------------------------------------------------------------------------------
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL or "filesystem://")
if CELERY_BROKER_URL == "filesystem://":
    _broker_dir = VAR_DIR / "broker"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "out"),
        "data_folder_out": str(_broker_dir / "out"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
# A second beat process stands by on a PostgreSQL advisory lock instead of scheduling every job
# twice (apps.core.scheduler; on SQLite, where ``make run`` runs one beat, it simply runs).
CELERY_BEAT_SCHEDULER = "apps.core.scheduler:SingletonDatabaseScheduler"
CELERY_BEAT_SCHEDULE: dict = {}
# Redis hands an unacknowledged message (acks_late) to another worker only after this many
# seconds, when the worker that took it died without rejecting it (SIGKILL, lost machine). A
# task still running after it is delivered again: keep it above the longest job (the jobs are
# idempotent and take a job lock, so a second delivery does nothing twice, but it wastes a run).
CELERY_VISIBILITY_TIMEOUT = env.int("CELERY_VISIBILITY_TIMEOUT", default=60 * 60 * 4)
if CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_VISIBILITY_TIMEOUT}

# Two queues, so that a large job never delays what a person is waiting for: ``default`` (order
# follow-ups, e-mails to one person, outbox delivery, SLA sweeps) and ``bulk`` (imports, exports,
# nightly set-based jobs, campaign sends, metrics and KPI snapshots). Every task is named in one
# of the two lists below; tests/ops/test_queues.py fails on a task in neither, so a new bulk job
# cannot land on ``default`` unnoticed. Run one worker per queue in production (deploy/RUNBOOK.md,
# "Queues and workers"); ``make run`` runs one worker consuming both.
CELERY_TASK_DEFAULT_QUEUE = "default"
DEFAULT_QUEUE_TASKS = (
    "complaints.escalation_email_send",
    "complaints.reply_email_send",
    "complaints.resolved_email_send",
    "complaints.sla_sweep",
    "core.outbox_deliver",
    "core.outbox_sweep",
    "campaigns.tick",  # only finds due campaigns and queues their sends on ``bulk``
    "integrations.webhook_send",  # one HTTP call per delivery, like the outbox it follows
    "integrations.webhook_retry_due",
    "integrations.endpoint_disabled_mail",
)
BULK_QUEUE_TASKS = (
    "analytics.at_risk_weekly",
    "analytics.kpi_snapshot",
    "analytics.recompute_metrics",
    "analytics.reports_send_due",
    "apps.api.tasks.idempotency_keys_purge_expired",
    "campaigns.journeys_daily",
    "campaigns.send",
    "complaints.attachments_purge",
    "complaints.auto_close",
    "core.export_files_purge",
    "customers.import_job_run",
    "customers.import_jobs_purge",
    "dashboard.export_job_run",
    "loyalty.badge_anniversaries",
    "loyalty.birthday_bonuses",
    "loyalty.ledger_verify",
    "loyalty.points_expire",
    "loyalty.points_expiring_remind",
    "loyalty.points_mature",
    "loyalty.tiers_review",
    "surveys.invitation_emails_sweep",
    "surveys.invitations_after_purchase",
)
CELERY_TASK_ROUTES = {name: {"queue": "bulk"} for name in BULK_QUEUE_TASKS}
# Accounts per transaction in the nightly maturation and expiry jobs: smaller chunks hold their
# row locks for less time (and a killed worker loses less work), larger ones finish sooner.
LOYALTY_JOB_CHUNK = env.int("LOYALTY_JOB_CHUNK", default=1000)

# --- Outbound webhooks (apps.integrations, docs/integrations.md) ---------------------------
# Per connect and per read of one attempt.
WEBHOOK_TIMEOUT_SECONDS = env.float("WEBHOOK_TIMEOUT_SECONDS", default=5.0)
# Attempts per round (a replay starts a new round); then the delivery is failed.
WEBHOOK_MAX_ATTEMPTS = env.int("WEBHOOK_MAX_ATTEMPTS", default=10)
# Back-off: base x 2^(n-1) seconds after the n-th failure, capped, with jitter.
WEBHOOK_BACKOFF_BASE_SECONDS = env.int("WEBHOOK_BACKOFF_BASE_SECONDS", default=30)
WEBHOOK_BACKOFF_MAX_SECONDS = env.int("WEBHOOK_BACKOFF_MAX_SECONDS", default=6 * 3600)
# An endpoint is disabled after this many failed attempts in a row (any of its deliveries).
WEBHOOK_DISABLE_AFTER_FAILURES = env.int("WEBHOOK_DISABLE_AFTER_FAILURES", default=25)
# Delivered deliveries are kept this many days in the log; failed ones until replayed.
WEBHOOK_KEEP_DAYS = env.int("WEBHOOK_KEEP_DAYS", default=30)
# Plain http:// endpoints, and endpoints on loopback, private or link-local addresses (SSRF):
# off in production; a receiver on the same private network needs them on deliberately.
WEBHOOK_ALLOW_HTTP = env.bool("WEBHOOK_ALLOW_HTTP", default=False)
WEBHOOK_ALLOW_PRIVATE_NETWORKS = env.bool("WEBHOOK_ALLOW_PRIVATE_NETWORKS", default=False)

# --- REST framework ------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["apps.api.auth.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["apps.api.auth.HasApiKey"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # Bounded depth, no lone surrogates (apps.api.parsers); NUL bytes and bodies above
    # DATA_UPLOAD_MAX_MEMORY_SIZE are refused before it (apps.core.middleware).
    "DEFAULT_PARSER_CLASSES": ["apps.api.parsers.JSONParser"],
    "DEFAULT_PAGINATION_CLASS": "apps.api.pagination.CursorPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "apps.api.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_THROTTLE_CLASSES": ["apps.api.throttling.ApiKeyThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "api_key": env("API_RATE", default="3000/minute"),
        "coupon_check": env("API_COUPON_CHECK_RATE", default="30/minute"),
    },
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Clientele API",
    "DESCRIPTION": (
        "Loyalty and retention CRM: members, orders, points, rewards, coupons.\n\n"
        "Every answer from the application is JSON; an error is `{code, message}`. A request "
        "line longer than the web server accepts (gunicorn: 4,094 bytes) is refused by the "
        "server itself with `414` before it reaches the application; every documented query "
        "parameter fits well within that."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    # Request bodies get their own components, so a field that refuses "" says minLength 1.
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "apps.api.schema.document_cross_field_rules",
    ],
    "APPEND_COMPONENTS": {
        "securitySchemes": {"ApiKey": {"type": "apiKey", "in": "header", "name": "Authorization"}}
    },
    "SECURITY": [{"ApiKey": []}],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}
API_JSON_MAX_DEPTH = 32
IDEMPOTENCY_KEY_TTL_HOURS = 24
IDEMPOTENCY_RUNNING_TIMEOUT_SECONDS = 120

# --- Import / export ------------------------------------------------------------------------
IMPORT_EXPORT_USE_TRANSACTIONS = True
IMPORT_EXPORT_SKIP_ADMIN_LOG = False
IMPORT_EXPORT_ESCAPE_FORMULAE_ON_EXPORT = True

# --- Operations: probes, metrics, logs, error reports (deploy/RUNBOOK.md) --------------------
# Seconds each /readyz (and manage.py doctor) check may take before it counts as failed.
READINESS_CHECK_TIMEOUT = env.float("READINESS_CHECK_TIMEOUT", default=2.0)
# /metrics answers only a scrape with "Authorization: Bearer <METRICS_TOKEN>"; unset: 404.
METRICS_TOKEN = env("METRICS_TOKEN", default="")
# The Celery queues whose lengths /metrics reports (Redis brokers only).
METRICS_QUEUES = env.list("METRICS_QUEUES", default=["default", "bulk"])
# A Celery worker serves its task metrics on this port (0: off); it needs
# PROMETHEUS_MULTIPROC_DIR to add up its pool processes (apps.core.metrics).
CELERY_METRICS_PORT = env.int("CELERY_METRICS_PORT", default=0)
CELERY_METRICS_ADDR = env("CELERY_METRICS_ADDR", default="127.0.0.1")
# Workers log through LOGGING below (the request id, JSON in production), not Celery's format.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Error reports go to Sentry only when a DSN is set; personal data is scrubbed (apps.core.sentry).
SENTRY_DSN = env("SENTRY_DSN", default="")
if SENTRY_DSN:
    from apps.core.sentry import sentry_init

    sentry_init(
        dsn=SENTRY_DSN,
        environment=env("SENTRY_ENVIRONMENT", default="production"),
        release=env("SENTRY_RELEASE", default=""),
        traces_sample_rate=env.float("SENTRY_TRACES_SAMPLE_RATE", default=0.0),
    )


class _ForbiddenOneLine(logging.Filter):
    """A refused request (403) is routine: keep its one warning line, drop the traceback of
    the PermissionDenied that Django attaches to it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "status_code", None) == 403:
            record.exc_info = None
            record.exc_text = None
        return True


LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "forbidden_one_line": {"()": _ForbiddenOneLine},
        "request_id": {"()": "apps.core.request_id.RequestIdFilter"},
    },
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"}
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # Django's default config gives "django" a console handler of its own, and the record
        # then also propagates to root: every message printed twice. Root alone prints it.
        "django": {"handlers": [], "level": "INFO", "propagate": True},
        "django.request": {"filters": ["forbidden_one_line"]},
        # At DEBUG Django logs each failed template variable lookup with the whole context
        # (form data, the customer on the page): personal data, and noise. Never below INFO.
        "django.template": {"level": "INFO"},
    },
}

# --- Content-Security-Policy (django-csp) -------------------------------------------------------
# Every response carries it. Scripts and styles come only from our own static files: no inline
# <script>, no on*= handlers, no style= attributes (templates hold behaviour in static/js/ and
# values for scripts in json_script or data- attributes; tests/core/test_templates_csp.py keeps it
# so). data: images are Bootstrap's inline SVG icons (select arrows, close buttons, switches).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# Permissions-Policy on every response (apps.core.middleware): feature -> allowed origins; an
# empty list turns the feature off for every origin, this site included.
PERMISSIONS_POLICY: dict[str, list[str]] = {
    feature: []
    for feature in (
        "accelerometer",
        "autoplay",
        "camera",
        "display-capture",
        "geolocation",
        "gyroscope",
        "magnetometer",
        "microphone",
        "midi",
        "payment",
        "screen-wake-lock",
        "serial",
        "usb",
        "xr-spatial-tracking",
    )
}
