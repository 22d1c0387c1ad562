"""config.settings.prod refuses to start without a real mail server (the console backend would
write every e-mail -- addresses, sign-in codes, reset links -- to the production log), a strong
secret key, or keys of their own for the ledger chain and the erased-contacts digests."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SECRET = "k3y-Q" * 12  # 60 characters, 5 distinct
KEYS = {
    "DJANGO_SECRET_KEY": SECRET,
    "LEDGER_KEY": "L3dg3r-k3y-" * 4,
    "ERASURE_DIGEST_KEY": "Er4se-k3y-" * 4,
}
SMTP = "smtp+tls://user:pass@smtp.example.com:587"


def _import_prod(**env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in {"EMAIL_URL", *KEYS}}
    env = {name: value for name, value in (KEYS | env).items() if value is not None}
    return subprocess.run(
        [sys.executable, "-c", "import config.settings.prod"],
        cwd=ROOT,
        env=clean | env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    "email_url",
    [None, "consolemail://", "dummymail://", "memorymail://", "filemail:///tmp/mail"],
)
def test_production_refuses_a_missing_or_non_delivering_mail_backend(email_url):
    result = _import_prod(**({} if email_url is None else {"EMAIL_URL": email_url}))
    assert result.returncode != 0
    assert "ImproperlyConfigured: EMAIL_URL must name a real mail server" in result.stderr


def test_production_starts_with_an_smtp_server():
    result = _import_prod(EMAIL_URL="smtp+tls://user:pass@smtp.example.com:587")
    assert (result.returncode, result.stderr) == (0, "")


@pytest.mark.parametrize(
    "secret", ["", "short-but-random-9f8e7d", "x" * 60, "dev-only-" + "a1b2c3" * 9]
)
def test_production_refuses_a_weak_secret_key(secret):
    result = _import_prod(
        DJANGO_SECRET_KEY=secret, EMAIL_URL="smtp+tls://user:pass@smtp.example.com:587"
    )
    assert result.returncode != 0
    assert "ImproperlyConfigured: DJANGO_SECRET_KEY must be set" in result.stderr


@pytest.mark.parametrize("name", ["LEDGER_KEY", "ERASURE_DIGEST_KEY"])
@pytest.mark.parametrize("value", [None, "", "short-but-random-9f8e7d", "z" * 40])
def test_production_refuses_a_missing_or_weak_ledger_or_erasure_key(name, value):
    result = _import_prod(EMAIL_URL=SMTP, **{name: value})
    assert result.returncode != 0
    assert f"ImproperlyConfigured: {name} must be set to a random value" in result.stderr


@pytest.mark.parametrize("same_as", ["DJANGO_SECRET_KEY", "ERASURE_DIGEST_KEY"])
def test_production_refuses_a_ledger_key_that_is_not_its_own(same_as):
    result = _import_prod(EMAIL_URL=SMTP, LEDGER_KEY=KEYS[same_as])
    assert result.returncode != 0
    assert "ImproperlyConfigured: LEDGER_KEY must be a key of its own" in result.stderr


def test_production_uses_the_ledger_and_erasure_keys_it_is_given():
    code = (
        "from config.settings import prod; "
        "print(prod.LEDGER_KEY == 'L3dg3r-k3y-' * 4, prod.ERASURE_DIGEST_KEY == 'Er4se-k3y-' * 4)"
    )
    clean = {k: v for k, v in os.environ.items() if k not in {"EMAIL_URL", *KEYS}}
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=clean | KEYS | {"EMAIL_URL": SMTP},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (result.returncode, result.stdout) == (0, "True True\n")


def test_production_check_deploy_is_clean():
    # The browser tests allow async-unsafe ORM calls in this process; a deployment never does.
    dropped = {"EMAIL_URL", "DJANGO_ALLOW_ASYNC_UNSAFE", *KEYS}
    clean = {k: v for k, v in os.environ.items() if k not in dropped}
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=clean
        | {
            "DJANGO_SETTINGS_MODULE": "config.settings.prod",
            "DJANGO_SECRET_KEY": "".join(chr(33 + (i * 7) % 90) for i in range(64)),
            "LEDGER_KEY": KEYS["LEDGER_KEY"],
            "ERASURE_DIGEST_KEY": KEYS["ERASURE_DIGEST_KEY"],
            "EMAIL_URL": "smtp+tls://user:pass@smtp.example.com:587",
            "ALLOWED_HOSTS": "crm.example.com",
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout
