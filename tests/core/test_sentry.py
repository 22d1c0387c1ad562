"""Error reports go to Sentry only when SENTRY_DSN is set, and no personal data leaves with
them: the transport (what would leave the machine) is replaced by one that keeps envelopes."""

import json
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import sentry_sdk
from django.http import HttpResponse
from django.urls import path
from sentry_sdk.transport import Transport

from apps.core.sentry import redact, sentry_init
from tests.conftest import enrolled_member

ROOT = Path(__file__).resolve().parents[2]
HEX32 = re.compile(r"[0-9a-f]{32}")


def failing_view(request):
    logging.getLogger("apps.demo").info("looking up %s", request.POST.get("phone"))
    raise ValueError(f"no customer for {request.POST.get('email')} / {request.POST.get('phone')}")


def logging_view(request):
    logging.getLogger("apps.demo").error("could not text %s (%s)", PHONE, EMAIL)
    return HttpResponse("ok")


urlpatterns = [path("boom/", failing_view), path("logs/", logging_view)]

ACTIVE = """
import django; django.setup()
import sentry_sdk
client = sentry_sdk.get_client()
print(client.is_active(), (client.options.get("data_collection") or {}).get("user_info"))
"""


@pytest.mark.parametrize(
    "dsn, expected",
    [(None, "False"), ("", "False"), ("https://key@sentry.example.invalid/1", "True")],
)
def test_sentry_starts_only_with_a_dsn(dsn, expected):
    env = {k: v for k, v in os.environ.items() if k != "SENTRY_DSN"}
    env["DJANGO_SETTINGS_MODULE"] = "config.settings.test"
    if dsn is not None:
        env["SENTRY_DSN"] = dsn
    result = subprocess.run(
        [sys.executable, "-c", ACTIVE],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert result.stdout.split()[0] == expected
    if expected == "True":
        assert result.stdout.split()[1] == "False"  # no user e-mail or IP


# Kept away from the views above: Sentry sends a few source lines around each frame.
EMAIL, PHONE, SURNAME = "wendy.wu@example.com", "+8613900139000", "Wuxiaoling"


class Keep(Transport):
    def __init__(self, options=None):
        super().__init__(options)
        self.sent: list[str] = []

    def capture_envelope(self, envelope):
        self.sent.append(envelope.serialize().decode("utf-8", "replace"))


@pytest.fixture
def sentry():
    sentry_init(dsn="https://key@sentry.example.invalid/1", environment="test")
    kept = Keep()
    sentry_sdk.get_client().transport = kept
    yield kept
    sentry_sdk.get_client().close()
    sentry_sdk.init()  # no DSN: off again for the tests after this one


@pytest.mark.django_db
def test_a_failed_request_reaches_sentry_without_personal_data(client, settings, sentry):
    settings.ROOT_URLCONF = __name__
    user, _customer = enrolled_member(EMAIL, first_name="Wendy", last_name=SURNAME)
    client.force_login(user)
    client.raise_request_exception = False
    response = client.post(
        "/boom/?email=" + EMAIL,
        {"email": EMAIL, "phone": PHONE, "last_name": SURNAME},
        HTTP_X_CONTACT=EMAIL,
    )
    assert response.status_code == 500
    client.get("/logs/")
    sentry_sdk.flush()
    sent = "\n".join(sentry.sent)
    assert "ValueError" in sent and "could not text" in sent  # both events left
    for personal in (EMAIL, PHONE, SURNAME, "8613900139000", "wendy.wu"):
        at = sent.find(personal)
        assert at < 0, sent[max(at - 300, 0) : at + 100]
    events = [json.loads(line) for line in sent.splitlines() if line.startswith('{"level"')]
    assert all(set(event.get("user", {})) <= {"id"} for event in events)
    assert all(HEX32.fullmatch(event["tags"]["request_id"]) for event in events)


def test_redact_replaces_addresses_and_numbers_but_not_dates():
    text = "mail a.b+c@shop.example.cn, call +86 139-0013-9000 or 13900139000 on 2026-12-07"
    assert redact(text) == "mail [email], call [phone] or [phone] on 2026-12-07"
