"""SMS back-ends. The gateway is the only thing that leaves the machine, so tests replace it."""

import logging
from dataclasses import dataclass
from importlib import import_module

from django.conf import settings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SmsMessage:
    to: str
    body: str


# Messages the locmem back-end "sent", oldest first (like ``django.core.mail.outbox``).
outbox: list[SmsMessage] = []


class BaseSmsBackend:
    def send(self, *, to: str, body: str) -> str:
        """Send one message; return the gateway's message id."""
        raise NotImplementedError


class ConsoleSmsBackend(BaseSmsBackend):
    """Development back-end: logs that a message was sent (length only, never the content)."""

    def send(self, *, to: str, body: str) -> str:
        logger.info("sms queued to=***%s chars=%d", to[-4:], len(body))
        return "console"


class LocmemSmsBackend(BaseSmsBackend):
    """Test back-end: keeps every message in ``outbox`` (the test settings select it; the
    ``sms_outbox`` fixture empties it for each test that reads it)."""

    def send(self, *, to: str, body: str) -> str:
        outbox.append(SmsMessage(to=to, body=body))
        return f"locmem-{len(outbox)}"


def get_sms_backend() -> BaseSmsBackend:
    module_path, _, cls_name = settings.SMS_BACKEND.rpartition(".")
    return getattr(import_module(module_path), cls_name)()
