"""Settings of the real worker and beat processes the fault tests start: the test settings, on
the test database pytest-django created (``OPS_DB_NAME``), with Redis as a real broker instead
of eager tasks, and a short visibility timeout so a message a killed worker held comes back in
seconds, not hours."""

import os

from config.settings.test import *  # noqa: F403
from config.settings.test import DATABASES, REDIS_URL

DATABASES["default"]["NAME"] = os.environ["OPS_DB_NAME"]
DATABASES["default"]["CONN_MAX_AGE"] = 0
DATABASES.pop("replica", None)
DATABASE_ROUTERS: list = []
CELERY_TASK_ALWAYS_EAGER = False
CELERY_BROKER_URL = REDIS_URL
CELERY_VISIBILITY_TIMEOUT = int(os.environ.get("CELERY_VISIBILITY_TIMEOUT", "6"))
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": CELERY_VISIBILITY_TIMEOUT,
    # Look for messages of dead workers every second (kombu's default: every 100 seconds).
    "unacked_restore_interval": 1,
    "unacked_restore_throttle": 1,
}
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"level": "WARNING"}}
LOYALTY_JOB_CHUNK = int(os.environ.get("LOYALTY_JOB_CHUNK", "1000"))
if os.environ.get("OPS_EMAIL_DIR"):  # e-mails as files the test can count
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = os.environ["OPS_EMAIL_DIR"]
if os.environ.get("OPS_SEND_RATE"):  # messages per second and channel: a send that takes a while
    CAMPAIGN_SEND_RATES = dict.fromkeys(
        ("email", "sms", "portal"), float(os.environ["OPS_SEND_RATE"])
    )
