"""The production smoke test's own helpers: the TOTP codes it types in (RFC 6238), the SMTP sink it
reads the confirmation link from, and the security settings it expects of config.settings.prod."""

import base64
import importlib.util
import json
import os
import smtplib
import subprocess
import sys
import threading
from email.message import EmailMessage
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("smoke_prod", ROOT / "scripts" / "smoke_prod.py")
smoke_prod = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(smoke_prod)


@pytest.mark.parametrize(
    ("at", "code"),
    # RFC 6238 appendix B, SHA-1 key "12345678901234567890", the last six of its eight digits.
    [(59, "287082"), (1111111109, "081804"), (1234567890, "005924"), (2000000000, "279037")],
)
def test_totp_codes_are_those_of_rfc_6238(at, code):
    secret = base64.b32encode(b"12345678901234567890").decode().rstrip("=")
    assert smoke_prod.totp_now(secret, at=at) == code


def test_the_smtp_sink_hands_back_a_link_from_a_message():
    sink = smoke_prod.SmtpSink(smoke_prod.free_port())
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    try:
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = "a@example.com", "op@example.com", "x"
        message.set_content(
            "Confirm: https://crm.example.com/accounts/confirm-email/Mg:1vX:ab-c/\n.\n"
        )
        with smtplib.SMTP(*sink.server_address, timeout=10) as smtp:
            smtp.send_message(message)
        link = sink.link("op@example.com", r"https://\S+/confirm-email/\S+/", timeout=5)
        assert link == "https://crm.example.com/accounts/confirm-email/Mg:1vX:ab-c/"
        with pytest.raises(smoke_prod.SmokeFailure):
            sink.link("someone-else@example.com", r"https://\S+", timeout=0.5)
    finally:
        sink.shutdown()
        sink.server_close()


def test_production_security_settings():
    code = (
        "import json; from config.settings import prod as s; print(json.dumps({n: getattr(s, n) "
        "for n in ('SECURE_HSTS_SECONDS', 'SECURE_HSTS_INCLUDE_SUBDOMAINS', 'SECURE_HSTS_PRELOAD',"
        " 'SECURE_SSL_REDIRECT', 'SECURE_PROXY_SSL_HEADER', 'SESSION_COOKIE_SECURE',"
        " 'CSRF_COOKIE_SECURE', 'SESSION_COOKIE_HTTPONLY', 'SECURE_CONTENT_TYPE_NOSNIFF',"
        " 'SECURE_REFERRER_POLICY', 'SECURE_CROSS_ORIGIN_OPENER_POLICY', 'X_FRAME_OPTIONS',"
        " 'SECRET_KEY_FALLBACKS')}))"
    )
    keys = {
        "DJANGO_SECRET_KEY": "k3y-Q" * 12,
        "DJANGO_SECRET_KEY_FALLBACKS": "0ld-k3y-" * 8 + ",0ld3r-k3y-" * 1,
        "LEDGER_KEY": "L3dg3r-k3y-" * 4,
        "ERASURE_DIGEST_KEY": "Er4se-k3y-" * 4,
        "EMAIL_URL": "smtp+tls://user:pass@smtp.example.com:587",
    }
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SECURE_", "DJANGO_"))}
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=clean | keys,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "SECURE_HSTS_SECONDS": 31536000,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
        "SECURE_HSTS_PRELOAD": True,
        "SECURE_SSL_REDIRECT": True,
        "SECURE_PROXY_SSL_HEADER": ["HTTP_X_FORWARDED_PROTO", "https"],
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "SESSION_COOKIE_HTTPONLY": True,
        "SECURE_CONTENT_TYPE_NOSNIFF": True,
        "SECURE_REFERRER_POLICY": "same-origin",
        "SECURE_CROSS_ORIGIN_OPENER_POLICY": "same-origin",
        "X_FRAME_OPTIONS": "DENY",
        "SECRET_KEY_FALLBACKS": ["0ld-k3y-" * 8, "0ld3r-k3y-"],
    }
