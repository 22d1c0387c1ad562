import atexit
import shutil
import tempfile

from .base import *

DEBUG = False
SECRET_KEY = "test-secret-key-not-for-production"  # noqa: S105
LEDGER_KEY = derive_key(SECRET_KEY, LEDGER_KEY_LABEL)
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_BROKER_URL = "memory://"
# Base's storages. Private files go to a throwaway directory, never the checkout's var/private
# (tests that look at stored files point PRIVATE_MEDIA_ROOT at their own tmp_path).
PRIVATE_MEDIA_ROOT = Path(tempfile.mkdtemp(prefix="clientele-test-private-"))
atexit.register(shutil.rmtree, PRIVATE_MEDIA_ROOT, ignore_errors=True)
if not REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "clientele-test",
        }
    }
LANGUAGE_CODE = "en"
LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"level": "WARNING"}}
SMS_BACKEND = "apps.core.sms.LocmemSmsBackend"
# Tests do not wait for the pacing (tests of the pacing set their own rates).
CAMPAIGN_SEND_RATES = {"email": 1e6, "sms": 1e6, "portal": 1e6}
